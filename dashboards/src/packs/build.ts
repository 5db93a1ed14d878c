/**
 * Assembling a pack from the stores: the M&V results of the subject recorded as of the pack
 * time, the exact readings each used (from its `mv.inputs` record), their Merkle roots and
 * data-quality statement, the register events, the methods and reference data; then signing.
 */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import {
  analysisWindow,
  analyticsVersion,
  createZone,
  digestOf,
  RECORD_KINDS,
  uniqueReferences,
  type Finding,
  type MvInputsBody,
  type ReferenceVersion,
  type ResultRecordBody,
} from '@wattproof/analytics';
import { meterKey, type Quantity, type ReadingKind, type ReadingStore, type RegistryStore, type StoredRecord, type Unit } from '@wattproof/core';
import { packError } from './errors.js';
import { CSV_HEADER, LEAF_ENCODING, MERKLE_ENCODING, seriesRoots, type SeriesKey, type SeriesReading } from './merkle.js';
import { qualityOf } from './quality.js';
import { packDigest, signBytes, signedBytes, type PackSigner } from './signing.js';
import { CANONICAL_JSON, PACK_FORMAT, type Pack, type PackBody, type PackBuilding, type PackCovenantTest, type PackFinance, type PackMvEntry, type PackPeriod, type PackQuality, type PackRecordRef, type PackSeries, type PackSettlement, type PackSubject, type PeriodTotals } from './types.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const RAW_LIMIT = 2_000_000;
const PAGE = 1000;

let dashboardsVersion: string | undefined;
function generatorVersion(): string {
  dashboardsVersion ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return dashboardsVersion;
}

export interface PackDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  /** Epoch ms now (generatedAt, default asOf). */
  readonly clock?: () => number;
}

/** A series as packed: its key, readings (ts order) and canonical lines. */
export interface PackedSeries {
  readonly key: SeriesKey;
  readonly readings: SeriesReading[];
  readonly lines: string[];
}

/** An unsigned pack body and the series its export writes. */
export interface AssembledPack {
  readonly body: Omit<PackBody, 'signer'>;
  /** By pack series id. */
  readonly series: ReadonlyMap<string, PackedSeries>;
}

export interface PeriodRequest {
  /** Local date, inclusive. */
  readonly from: string;
  /** Local date, exclusive. */
  readonly to: string;
  /** What the stores knew (epoch ms); default now. */
  readonly asOfMs?: number;
}

/** The CSV export of a series: header, then one canonical line per reading, `\n` after each. */
export function seriesCsv(lines: readonly string[]): string {
  return `${CSV_HEADER}\n${lines.map((l) => `${l}\n`).join('')}`;
}

/** Export file name of a series id (ids and dates are `[A-Za-z0-9_.-]`). */
export function seriesFileName(id: string): string {
  return `series/${id.replace(/\//g, '.').replace('@', '_').replace('#', '-')}.csv`;
}

/** The monthly rows of a result whose month starts in [from, to), summed. */
export function periodTotals(result: ResultRecordBody['result'], period: { from: string; to: string }): PeriodTotals {
  const rows = result.savings.monthly.filter((m) => `${m.period}-01` >= period.from && `${m.period}-01` < period.to);
  const sum = (pick: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + pick(r), 0);
  const counterfactual = sum((r) => r.counterfactual);
  const avoided = sum((r) => r.avoided);
  return {
    months: rows.map((r) => r.period),
    points: sum((r) => r.points),
    counterfactual,
    observed: sum((r) => r.observed),
    avoided,
    fraction: counterfactual !== 0 ? avoided / counterfactual : null,
    adjustment: sum((r) => r.adjustment),
    adjustedAvoided: sum((r) => r.adjustedAvoided),
  };
}

/** The readings of an `mv.inputs` record as series readings. */
export function inputsReadings(inputs: Pick<MvInputsBody, 'usage' | 'temperatures'>): { usage: SeriesReading[]; temperature: SeriesReading[] } {
  return {
    usage: inputs.usage.map(([start, end, value]) => ({ ts: start, value, intervalS: (end - start) / 1000 })),
    temperature: inputs.temperatures.map(([ts, value]) => ({ ts, value })),
  };
}

/** The inputs body (without digest) a result's series and register give: what `mv.inputs` digests. */
export function inputsSeriesOf(usage: readonly SeriesReading[], temperature: readonly SeriesReading[], adjustments: PackMvEntry['adjustments'], weatherStationDistanceKm: number | undefined): Omit<MvInputsBody, 'digest'> {
  return {
    usage: [...usage].sort((a, b) => a.ts - b.ts).map((r) => [r.ts, r.ts + (r.intervalS ?? 0) * 1000, r.value] as [number, number, number | null]),
    temperatures: [...temperature].sort((a, b) => a.ts - b.ts).map((r) => [r.ts, r.value] as [number, number | null]),
    adjustments,
    ...(weatherStationDistanceKm !== undefined ? { weatherStationDistanceKm } : {}),
  };
}

/** Local dates → epoch ms of the pack period. */
export function periodBounds(period: PackPeriod): { from: number; to: number } {
  const zone = createZone(period.timeZone);
  return { from: zone.startOfDay(period.from), to: zone.startOfDay(period.to) };
}

function checkPeriod(req: PeriodRequest): void {
  if (!DATE.test(req.from) || !DATE.test(req.to) || Number.isNaN(Date.parse(`${req.from}T00:00:00Z`)) || Number.isNaN(Date.parse(`${req.to}T00:00:00Z`))) {
    throw packError('PACK_REQUEST_INVALID', `the period must be two local dates YYYY-MM-DD, got ${req.from} – ${req.to}`);
  }
  if (req.from >= req.to) throw packError('PACK_REQUEST_INVALID', `the period's end ${req.to} must be after its start ${req.from} (the end is exclusive)`);
  if (req.asOfMs !== undefined && !Number.isSafeInteger(req.asOfMs)) throw packError('PACK_REQUEST_INVALID', 'asOf must be an instant');
}

async function allRecords(registry: RegistryStore, kind: string, keyPrefix: string): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await registry.listRecords({ kind, keyPrefix, limit: PAGE, ...(before ? { before } : {}) });
    out.push(...page);
    if (page.length < PAGE) return out;
    before = page[page.length - 1]!.id;
  }
}

const DEFAULT_UNITS: Partial<Record<Quantity, Unit>> = { electricity: 'kWh', gas: 'm3', outdoor_temperature: '°C' };

/**
 * Builds the pack body of one building: the newest M&V result of each of its meters recorded on
 * or before `asOfMs` whose reporting period overlaps [from, to).
 * @throws WattproofError PACK_REQUEST_INVALID, PACK_SUBJECT_NOT_FOUND, PACK_NO_RESULTS, PACK_INPUTS_MISSING.
 */
export async function assembleBuildingPack(deps: PackDeps, req: PeriodRequest & { readonly site: string; readonly building: string }): Promise<AssembledPack> {
  checkPeriod(req);
  const buildings = await deps.registry.listBuildings(req.site);
  const b = buildings.find((x) => x.id === req.building);
  if (!b) throw packError('PACK_SUBJECT_NOT_FOUND', `no building ${req.site}/${req.building} in the registry`, { details: { site: req.site, building: req.building } });
  const site = (await deps.registry.listSites()).find((s) => s.id === req.site);
  const building: PackBuilding = {
    site: req.site,
    building: req.building,
    ...(b.name !== undefined ? { name: b.name } : {}),
    ...(b.type !== undefined ? { type: b.type } : {}),
    ...(b.floorAreaM2 !== undefined ? { floorAreaM2: b.floorAreaM2 } : {}),
    timeZone: site?.timezone ?? 'Asia/Shanghai',
  };
  const clock = deps.clock ?? Date.now;
  const now = clock();
  const asOfMs = req.asOfMs ?? now;
  const records = await resultsFor(deps.registry, [`${req.site}/${req.building}/`], req, asOfMs);
  if (!records.length) {
    throw packError('PACK_NO_RESULTS', `building ${req.site}/${req.building} has no M&V result recorded by ${new Date(asOfMs).toISOString()} whose reporting period overlaps ${req.from} – ${req.to}`, {
      details: { site: req.site, building: req.building, from: req.from, to: req.to, asOfMs },
    });
  }
  return assemble(deps, { kind: 'building', site: req.site, building: req.building }, { from: req.from, to: req.to, timeZone: building.timeZone }, [building], records, asOfMs, now);
}

/** The newest `mv.result` per meter key under the prefixes, recorded by `asOfMs`, overlapping the period. */
export async function resultsFor(registry: RegistryStore, keyPrefixes: readonly string[], period: { from: string; to: string }, asOfMs: number, onlyKeys?: ReadonlySet<string>): Promise<Array<StoredRecord & { body: ResultRecordBody }>> {
  const newest = new Map<string, StoredRecord & { body: ResultRecordBody }>();
  for (const prefix of keyPrefixes) {
    for (const r of await allRecords(registry, RECORD_KINDS.result, prefix)) {
      const body = r.body as ResultRecordBody;
      if (r.recordedAtMs > asOfMs || newest.has(r.key) || (onlyKeys && !onlyKeys.has(r.key))) continue;
      if (body.definition.reporting.start < period.to && body.definition.reporting.end > period.from) newest.set(r.key, r as StoredRecord & { body: ResultRecordBody });
    }
  }
  return [...newest.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Adds a series of readings to the pack (inputs, data quality, export) and returns its pack id. */
export type AddSeries = (key: SeriesKey, readings: SeriesReading[], window: { from: number; to: number }) => Promise<string>;

/** What a loan or policy pack adds to the M&V part. */
export interface FinanceExtra {
  readonly covenants: PackCovenantTest[];
  readonly settlements: PackSettlement[];
  readonly finance: PackFinance;
  readonly records: PackRecordRef[];
  readonly warnings: Finding[];
}

/** Lineages of the finance figures: each covenant test's service and evaluation lineage, each settlement's service and claim lineage. */
export function financeLineagesOf(covenants: readonly PackCovenantTest[], settlements: readonly PackSettlement[]): Array<{ method: { name: string; version: string }; referenceData: ReferenceVersion[] }> {
  return [...covenants.flatMap((c) => [c.lineage, c.evaluation.lineage]), ...settlements.flatMap((s) => [s.lineage, s.claim.lineage])];
}

/** The pack body of a subject from its M&V result records (shared by building, loan and policy packs). */
export async function assemble(
  deps: PackDeps,
  subject: PackSubject,
  period: PackPeriod,
  buildings: PackBuilding[],
  results: ReadonlyArray<StoredRecord & { body: ResultRecordBody }>,
  asOfMs: number,
  now: number,
  extra: { records?: PackRecordRef[]; warnings?: Finding[]; finance?: (addSeries: AddSeries) => Promise<FinanceExtra> } = {},
): Promise<AssembledPack> {
  const bounds = periodBounds(period);
  const series = new Map<string, PackedSeries>();
  const inputs: PackSeries[] = [];
  const quality: PackQuality[] = [];
  const mv: PackMvEntry[] = [];
  const records: PackRecordRef[] = [];
  const warnings: Finding[] = [...(extra.warnings ?? [])];
  const zone = createZone(period.timeZone);

  const unitCache = new Map<string, Unit>();
  async function unitOf(ref: { site: string; building: string; meter: string }, quantity: Quantity, kind: ReadingKind): Promise<Unit> {
    const k = `${meterKey(ref)}/${quantity}/${kind}`;
    if (!unitCache.has(k)) {
      const info = (await deps.readings.listSeries(ref)).find((s) => s.quantity === quantity && s.kind === kind);
      unitCache.set(k, info?.unit ?? DEFAULT_UNITS[quantity] ?? 'kWh');
    }
    return unitCache.get(k)!;
  }

  async function addSeries(key: SeriesKey, readings: SeriesReading[], window: { from: number; to: number }): Promise<string> {
    const { lines, root, days, readings: n } = seriesRoots(key, readings, period.timeZone);
    const base = `${key.site}/${key.building}/${key.meter}/${key.quantity}/${key.kind}@${zone.date(window.from)}`;
    const same = inputs.find((s) => s.id.startsWith(base) && s.root === root && s.from === window.from && s.to === window.to);
    if (same) return same.id;
    const id = inputs.some((s) => s.id === base) ? `${base}#${inputs.filter((s) => s.id.startsWith(base)).length + 1}` : base;
    const file = seriesFileName(id);
    const csv = seriesCsv(lines);
    const sorted = [...readings].sort((a, b) => a.ts - b.ts);
    series.set(id, { key, readings: sorted, lines });
    inputs.push({ id, ...key, from: window.from, to: window.to, readings: n, root, days, file, fileSha256: createHash('sha256').update(csv, 'utf8').digest('hex') });
    const events = await deps.registry.listRegisterEvents({ site: key.site, building: key.building, meter: key.meter });
    quality.push(qualityOf({ id, kind: key.kind, quantity: key.quantity, from: window.from, to: window.to }, sorted, bounds, events));
    // The store should still hold exactly these readings; if not, say so now (verify will show where).
    const current = await deps.readings.query({ site: key.site, building: key.building, meter: key.meter, quantity: key.quantity, kind: key.kind, from: window.from, to: window.to, limit: RAW_LIMIT });
    const now = seriesRoots(key, current.map((r) => ({ ts: r.ts, value: r.value, ...(r.intervalS !== undefined ? { intervalS: r.intervalS } : {}) })), period.timeZone);
    if (now.root !== root) {
      warnings.push({ code: 'pack.store_differs_from_inputs', message: `the store's readings of ${id} differ from those the M&V result used (corrected or backfilled since); the pack is over the readings used`, data: { series: id, usedRoot: root, storeRoot: now.root } });
    }
    return id;
  }

  for (const rec of results) {
    const body = rec.body;
    const def = body.definition;
    const inputsRecord = await deps.registry.getRecord(body.inputsRecord);
    const inputsBody = inputsRecord?.body as MvInputsBody | undefined;
    const expected = body.result.lineage.inputs.series;
    if (!inputsBody || inputsRecord!.kind !== RECORD_KINDS.inputs || inputsBody.digest !== expected) {
      throw packError('PACK_INPUTS_MISSING', `the inputs record ${body.inputsRecord} of M&V result ${rec.id} is ${inputsBody ? 'not the one its lineage names' : 'missing'}`, { details: { result: rec.id, inputsRecord: body.inputsRecord } });
    }
    const { usage, temperature } = inputsReadings(inputsBody);
    const window = analysisWindow(def);
    const usageKey: SeriesKey = { ...def.meter, quantity: def.fuel, kind: 'interval', unit: await unitOf(def.meter, def.fuel, 'interval') };
    const tempKey: SeriesKey = { ...def.temperatureMeter, quantity: 'outdoor_temperature', kind: 'instant', unit: await unitOf(def.temperatureMeter, 'outdoor_temperature', 'instant') };
    const usageId = await addSeries(usageKey, usage, window);
    const tempId = await addSeries(tempKey, temperature, window);
    // The packed series must re-derive the inputs digest, or the export could not reproduce the figures.
    const rebuilt = digestOf(inputsSeriesOf(usage, temperature, inputsBody.adjustments, inputsBody.weatherStationDistanceKm));
    if (rebuilt !== inputsBody.digest) {
      throw packError('PACK_INPUTS_MISSING', `the inputs record ${inputsRecord!.id} does not re-derive its own digest from its series`, { details: { result: rec.id, inputsRecord: inputsRecord!.id } });
    }
    records.push({ id: rec.id, kind: rec.kind, key: rec.key, recordedAtMs: rec.recordedAtMs }, { id: inputsRecord!.id, kind: inputsRecord!.kind, key: inputsRecord!.key, recordedAtMs: inputsRecord!.recordedAtMs });
    mv.push({
      meter: def.meter,
      resultRecord: rec.id,
      inputsRecord: inputsRecord!.id,
      recordedAtMs: rec.recordedAtMs,
      ranAtMs: body.ranAtMs,
      definition: def,
      inputsDigest: inputsBody.digest,
      series: { usage: usageId, temperature: tempId },
      adjustments: inputsBody.adjustments,
      ...(inputsBody.weatherStationDistanceKm !== undefined ? { weatherStationDistanceKm: inputsBody.weatherStationDistanceKm } : {}),
      result: JSON.parse(JSON.stringify(body.result)) as PackMvEntry['result'],
      period: periodTotals(body.result, period),
    });
  }
  records.push(...(extra.records ?? []));
  const fin = extra.finance ? await extra.finance(addSeries) : undefined;
  if (fin) {
    records.push(...fin.records);
    warnings.push(...fin.warnings);
  }
  const covenants = fin?.covenants ?? [];
  const settlements = fin?.settlements ?? [];
  const lineages = [...mv.map((m) => m.result.lineage), ...financeLineagesOf(covenants, settlements)];
  const methodMap = new Map<string, { name: string; version: string }>();
  for (const l of lineages) methodMap.set(`${l.method.name}@${l.method.version}`, { name: l.method.name, version: l.method.version });
  const refs = lineages.flatMap((l) => l.referenceData);

  return {
    body: {
      format: PACK_FORMAT,
      subject,
      period,
      generatedAt: new Date(now).toISOString(),
      asOfMs,
      generator: { name: '@wattproof/dashboards', version: generatorVersion(), analytics: `@wattproof/analytics@${analyticsVersion()}` },
      encoding: { json: CANONICAL_JSON, leaf: LEAF_ENCODING, merkle: MERKLE_ENCODING },
      buildings,
      mv,
      covenants,
      settlements,
      ...(fin ? { finance: fin.finance } : {}),
      inputs,
      dataQuality: quality,
      methods: [...methodMap.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, m]) => m),
      referenceData: uniqueReferences(refs),
      records,
      warnings,
    },
    series,
  };
}

/** Signs a pack body: embeds the signer's public key and fingerprint, then the signature over the canonical JSON without `signature`. */
export function signPack(body: Omit<PackBody, 'signer'>, signer: PackSigner): Pack {
  const signed: PackBody = { ...body, signer: { algorithm: 'Ed25519', publicKey: signer.publicKeyPem, fingerprint: signer.fingerprint } };
  // JSON round trip: the signed bytes are those of the document as any reader parses it.
  const plain = JSON.parse(JSON.stringify(signed)) as Record<string, unknown>;
  const bytes = signedBytes(plain);
  return { ...(plain as unknown as PackBody), signature: { algorithm: 'Ed25519', digest: packDigest(plain), value: signBytes(bytes, signer) } };
}
