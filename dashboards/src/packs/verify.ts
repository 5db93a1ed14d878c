/**
 * Verifying a pack: the Ed25519 signature and the key, the Merkle roots of every series (from
 * the stores or from the export alone), the data-quality statements, and every M&V figure
 * re-derived with the analytics from the recorded inputs (stores) or the exported readings.
 * The report lists exactly what differs: the path in the pack, the value in the pack and the
 * value re-derived.
 */
import { analysisInputOf, analyze, digestOf, RECORD_KINDS, uniqueReferences, type MvInputsBody, type ResultRecordBody } from '@wattproof/analytics';
import type { ReadingStore, RegisterEvent, RegistryStore } from '@wattproof/core';
import { financeLineagesOf, inputsSeriesOf, periodBounds, periodTotals } from './build.js';
import { verifyFinance } from './verify-finance.js';
import { packError } from './errors.js';
import { readExportedSeries } from './export.js';
import { rootsOfLines, seriesLines, type SeriesReading } from './merkle.js';
import { qualityOf } from './quality.js';
import { packDigest, parsePublicKey, publicKeyFingerprint, signedBytes, verifyBytes } from './signing.js';
import { PACK_FORMAT, type Pack, type PackSeries } from './types.js';

/** Where the verifier reads the data: the configured stores, or an export directory alone. */
export type VerifySource = { readonly kind: 'stores'; readonly readings: ReadingStore; readonly registry: RegistryStore } | { readonly kind: 'export'; readonly dir: string };

export type DifferenceCheck = 'signature' | 'inputs' | 'records' | 'figures' | 'quality' | 'summary';

/** One thing that is not as the pack says. */
export interface PackDifference {
  readonly check: DifferenceCheck;
  /** Where in the pack, e.g. `mv[0].result.savings.avoided`, `inputs[2].days[41].root`. */
  readonly path: string;
  /** The value the pack states (absent: the pack has none there). */
  readonly pack?: unknown;
  /** The value re-derived from the data (absent: nothing there). */
  readonly derived?: unknown;
  readonly message: string;
}

export interface VerifyReport {
  /** True when the signature is valid and nothing differs. */
  readonly ok: boolean;
  readonly source: 'stores' | 'export';
  readonly signature: { readonly valid: boolean; readonly fingerprint: string | null; readonly trustedKey: boolean; readonly digest: string };
  readonly checked: { readonly series: number; readonly days: number; readonly readings: number; readonly results: number; readonly figures: number; readonly qualityStatements: number; readonly covenantTests: number; readonly settlements: number; readonly snapshots: number };
  readonly differences: PackDifference[];
  /** Differences found beyond the ones listed (the list is capped). */
  readonly omitted: number;
  readonly notes: string[];
}

export interface VerifyOptions {
  /** The signer's public key (SPKI PEM) the verifier trusts; without it the embedded key is used and only integrity is shown. */
  readonly publicKeyPem?: string;
  /** Most differences listed (default 200); the rest are counted. */
  readonly maxDifferences?: number;
}

const fmtPath = (base: string, key: string | number) => (typeof key === 'number' ? `${base}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? (base ? `${base}.${key}` : key) : `${base}[${JSON.stringify(key)}]`);

/** Parses JSON text of a pack; PACK_INVALID when it is not a `wattproof.pack/1` document. */
export function parsePack(text: string): Pack {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw packError('PACK_INVALID', `the pack is not JSON: ${(cause as Error).message}`, { cause });
  }
  const v = value as Partial<Pack> | null;
  if (!v || typeof v !== 'object' || v.format !== PACK_FORMAT) throw packError('PACK_INVALID', `not a ${PACK_FORMAT} document (format: ${JSON.stringify((v as { format?: unknown } | null)?.format ?? null)})`);
  for (const key of ['mv', 'covenants', 'settlements', 'inputs', 'dataQuality', 'records', 'methods', 'referenceData'] as const) {
    if (!Array.isArray(v[key])) throw packError('PACK_INVALID', `the pack has no ${key} list`);
  }
  if (!v.period || !v.signer || !v.signature) throw packError('PACK_INVALID', 'the pack lacks its period, signer or signature');
  return v as Pack;
}

/** Verifies a pack against its data; never throws for a difference (only for an unreadable pack). */
export async function verifyPack(pack: Pack, source: VerifySource, options: VerifyOptions = {}): Promise<VerifyReport> {
  const max = options.maxDifferences ?? 200;
  const differences: PackDifference[] = [];
  let omitted = 0;
  const notes: string[] = [];
  const add = (d: PackDifference) => (differences.length < max ? differences.push(d) : omitted++);
  const counts = { series: 0, days: 0, readings: 0, results: 0, figures: 0, qualityStatements: 0, covenantTests: 0, settlements: 0, snapshots: 0 };

  /** Deep comparison; every leaf that differs is one difference. */
  function compare(check: DifferenceCheck, path: string, inPack: unknown, derived: unknown, what: string): void {
    if (inPack !== null && derived !== null && typeof inPack === 'object' && typeof derived === 'object' && Array.isArray(inPack) === Array.isArray(derived)) {
      if (Array.isArray(inPack)) {
        const d = derived as unknown[];
        if (inPack.length !== d.length) add({ check, path: `${path}.length`, pack: inPack.length, derived: d.length, message: `${what}: ${inPack.length} items in the pack, ${d.length} re-derived` });
        for (let i = 0; i < Math.min(inPack.length, d.length); i++) compare(check, fmtPath(path, i), inPack[i], d[i], what);
        return;
      }
      const a = inPack as Record<string, unknown>;
      const b = derived as Record<string, unknown>;
      for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
        if (!(key in b)) add({ check, path: fmtPath(path, key), pack: a[key], message: `${what}: in the pack but not re-derived` });
        else if (!(key in a)) add({ check, path: fmtPath(path, key), derived: b[key], message: `${what}: re-derived but missing from the pack` });
        else compare(check, fmtPath(path, key), a[key], b[key], what);
      }
      return;
    }
    if (typeof inPack === 'number' || typeof derived === 'number') counts.figures++;
    if (!Object.is(inPack, derived)) add({ check, path, pack: inPack, derived, message: `${what} differs` });
  }
  const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;

  // 1. Signature and key.
  const packRecord = pack as unknown as Record<string, unknown>;
  const digest = packDigest(packRecord);
  let valid = false;
  let fingerprint: string | null = null;
  try {
    const embedded = parsePublicKey(String(pack.signer.publicKey), 'public key in the pack');
    fingerprint = publicKeyFingerprint(embedded);
    if (fingerprint !== pack.signer.fingerprint) add({ check: 'signature', path: 'signer.fingerprint', pack: pack.signer.fingerprint, derived: fingerprint, message: 'the fingerprint does not belong to the public key in the pack' });
    let key = embedded;
    if (options.publicKeyPem) {
      key = parsePublicKey(options.publicKeyPem, 'trusted public key');
      const trusted = publicKeyFingerprint(key);
      if (trusted !== fingerprint) add({ check: 'signature', path: 'signer.publicKey', pack: fingerprint, derived: trusted, message: `the pack was signed with key ${fingerprint}, not with the trusted key ${trusted}` });
    } else {
      notes.push(`no trusted public key given (--public-key): the signature was checked with the key in the pack, ${fingerprint}; it proves the pack is unchanged, not who signed it`);
    }
    valid = verifyBytes(signedBytes(packRecord), String(pack.signature.value), key);
  } catch (err) {
    add({ check: 'signature', path: 'signer.publicKey', message: (err as Error).message });
  }
  if (pack.signature.digest !== digest) add({ check: 'signature', path: 'signature.digest', pack: pack.signature.digest, derived: digest, message: 'the pack content changed after signing (digest of the canonical JSON)' });
  if (!valid) add({ check: 'signature', path: 'signature.value', message: 'the Ed25519 signature does not verify over the canonical JSON of the pack: the pack was altered or signed with another key' });

  // 2. Series: readings from the source, Merkle roots per series and per day.
  const byId = new Map<string, SeriesReading[]>();
  for (const [i, s] of pack.inputs.entries()) {
    counts.series++;
    const base = `inputs[${i}]`;
    let lines: string[];
    let readings: SeriesReading[];
    if (source.kind === 'export') {
      const ex = await readExportedSeries(source.dir, s);
      for (const p of ex.problems) add({ check: 'inputs', path: `${base}.file`, pack: s.file, message: `series ${s.id}: ${p.line !== null ? `line ${p.line} of ${s.file} ` : ''}${p.message}` });
      if (ex.sha256 !== null && ex.sha256 !== s.fileSha256) add({ check: 'inputs', path: `${base}.fileSha256`, pack: s.fileSha256, derived: ex.sha256, message: `series ${s.id}: ${s.file} is not the file exported with the pack` });
      lines = ex.lines;
      readings = ex.readings;
    } else {
      const rows = await source.readings.query({ site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, kind: s.kind, from: s.from, to: s.to, limit: 2_000_000 });
      const other = rows.find((r) => r.unit !== s.unit);
      if (other) add({ check: 'inputs', path: `${base}.unit`, pack: s.unit, derived: other.unit, message: `series ${s.id}: the store keeps it in ${other.unit}` });
      readings = rows.map((r) => ({ ts: r.ts, value: r.value, ...(r.intervalS !== undefined ? { intervalS: r.intervalS } : {}) }));
      lines = seriesLines(s, readings);
      readings.sort((a, b) => a.ts - b.ts);
    }
    byId.set(s.id, readings);
    counts.readings += lines.length;
    checkRoots(s, base, lines, readings.map((r) => r.ts));
  }

  function checkRoots(s: PackSeries, base: string, lines: string[], ts: number[]): void {
    const roots = rootsOfLines(lines, ts, pack.period.timeZone);
    if (roots.readings !== s.readings) add({ check: 'inputs', path: `${base}.readings`, pack: s.readings, derived: roots.readings, message: `series ${s.id}: reading count differs` });
    if (roots.root !== s.root) add({ check: 'inputs', path: `${base}.root`, pack: s.root, derived: roots.root, message: `series ${s.id}: Merkle root differs` });
    const derivedDays = new Map(roots.days.map((d) => [d.date, d]));
    const packDays = new Map(s.days.map((d, j) => [d.date, { ...d, j }]));
    for (const date of [...new Set([...derivedDays.keys(), ...packDays.keys()])].sort()) {
      counts.days++;
      const p = packDays.get(date);
      const d = derivedDays.get(date);
      const where = `series ${s.id} (${s.site}/${s.building}/${s.meter} ${s.quantity} ${s.kind}), day ${date}`;
      if (!p) add({ check: 'inputs', path: `${base}.days`, derived: d, message: `${where}: readings now that the pack does not have (${d!.readings})` });
      else if (!d) add({ check: 'inputs', path: `${base}.days[${p.j}]`, pack: { date, readings: p.readings, root: p.root }, message: `${where}: the pack's ${p.readings} readings are gone` });
      else if (p.root !== d.root || p.readings !== d.readings) {
        add({ check: 'inputs', path: `${base}.days[${p.j}].root`, pack: p.root, derived: d.root, message: `${where}: Merkle root differs (${p.readings} readings in the pack, ${d.readings} now)` });
      }
    }
  }

  // 3. Data-quality statements, from the same readings (register events: the registry, or the pack's own list from an export).
  const seriesOf = new Map(pack.inputs.map((s) => [s.id, s]));
  const bounds = periodBounds(pack.period);
  for (const [i, q] of pack.dataQuality.entries()) {
    const s = seriesOf.get(q.series);
    if (!s) {
      add({ check: 'quality', path: `dataQuality[${i}].series`, pack: q.series, message: 'the statement names a series the pack does not have' });
      continue;
    }
    counts.qualityStatements++;
    const events: RegisterEvent[] =
      source.kind === 'stores'
        ? await source.registry.listRegisterEvents({ site: s.site, building: s.building, meter: s.meter })
        : q.registerEvents.map((e) => ({ site: s.site, building: s.building, meter: s.meter, quantity: s.quantity, detectedAtMs: 0, ...e, type: e.type as RegisterEvent['type'] }));
    compare('quality', `dataQuality[${i}]`, q, plain(qualityOf(s, byId.get(s.id) ?? [], bounds, events)), `data quality of ${s.id}`);
  }
  if (source.kind === 'export' && pack.dataQuality.some((q) => q.registerEvents.length)) notes.push('register events come from the registry: from an export alone they are taken as the pack states them');

  // 4. M&V figures, re-derived.
  for (const [j, m] of pack.mv.entries()) {
    counts.results++;
    const base = `mv[${j}]`;
    let inputs: MvInputsBody | undefined;
    if (source.kind === 'stores') {
      const rec = await source.registry.getRecord(m.resultRecord);
      if (!rec || rec.kind !== RECORD_KINDS.result) add({ check: 'records', path: `${base}.resultRecord`, pack: m.resultRecord, message: `the M&V result record ${m.resultRecord} is not in the registry` });
      else compare('records', `${base}.result`, m.result, plain((rec.body as ResultRecordBody).result), `stored result ${m.resultRecord}`);
      const inRec = await source.registry.getRecord(m.inputsRecord);
      if (!inRec || inRec.kind !== RECORD_KINDS.inputs) add({ check: 'records', path: `${base}.inputsRecord`, pack: m.inputsRecord, message: `the inputs record ${m.inputsRecord} is not in the registry` });
      else {
        inputs = inRec.body as MvInputsBody;
        const { digest: stated, ...series } = inputs;
        const rebuilt = digestOf(series);
        if (rebuilt !== stated) add({ check: 'records', path: `${base}.inputsDigest`, pack: m.inputsDigest, derived: rebuilt, message: `the stored inputs record ${m.inputsRecord} no longer matches its own digest` });
        else if (stated !== m.inputsDigest) add({ check: 'records', path: `${base}.inputsDigest`, pack: m.inputsDigest, derived: stated, message: `the stored inputs record ${m.inputsRecord} has another digest` });
        compare('records', `${base}.adjustments`, m.adjustments, plain(inputs.adjustments), 'non-routine adjustments of the stored inputs');
      }
    } else {
      const usage = byId.get(m.series.usage);
      const temperature = byId.get(m.series.temperature);
      if (!usage || !temperature) {
        add({ check: 'inputs', path: `${base}.series`, pack: m.series, message: 'the result names a series the pack does not have' });
      } else {
        const series = inputsSeriesOf(usage, temperature, m.adjustments, m.weatherStationDistanceKm);
        const digest = digestOf(series);
        if (digest !== m.inputsDigest) add({ check: 'inputs', path: `${base}.inputsDigest`, pack: m.inputsDigest, derived: digest, message: `the exported readings of ${m.series.usage} and ${m.series.temperature} with the pack's adjustments do not give the inputs digest of result ${m.resultRecord}` });
        inputs = { digest, ...series };
      }
    }
    if (m.result.lineage.inputs.series !== m.inputsDigest) add({ check: 'figures', path: `${base}.result.lineage.inputs.series`, pack: m.result.lineage.inputs.series, derived: m.inputsDigest, message: 'the result\'s lineage names other inputs' });
    if (!inputs) continue;
    let rederived: ResultRecordBody['result'];
    try {
      rederived = analyze(analysisInputOf(m.definition, inputs));
    } catch (err) {
      add({ check: 'figures', path: `${base}.result`, message: `the analysis could not be re-run: ${(err as Error).message}` });
      continue;
    }
    compare('figures', `${base}.result`, m.result, plain(rederived), `M&V result ${m.resultRecord} (${m.meter.site}/${m.meter.building}/${m.meter.meter})`);
    compare('figures', `${base}.period`, m.period, plain(periodTotals(rederived, pack.period)), `period totals of ${m.resultRecord}`);
  }

  // 4b. Loan and policy packs: covenant tests, snapshots and settlements, re-derived.
  await verifyFinance(pack, { source, byId, add, compare, counts });

  // 5. Summaries: methods and reference data follow from the figures.
  const lineages = [...pack.mv.map((m) => m.result.lineage), ...financeLineagesOf(pack.covenants ?? [], pack.settlements ?? [])];
  const methods = new Map(lineages.map((l) => [`${l.method.name}@${l.method.version}`, { name: l.method.name, version: l.method.version }]));
  compare('summary', 'methods', pack.methods, [...methods.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, v]) => v), 'method list');
  compare('summary', 'referenceData', pack.referenceData, plain(uniqueReferences(lineages.flatMap((l) => l.referenceData))), 'reference data list');
  const used = new Set([
    ...pack.mv.flatMap((m) => [m.resultRecord, m.inputsRecord]),
    ...(pack.covenants ?? []).map((c) => c.record),
    ...(pack.settlements ?? []).map((c) => c.record),
    ...(pack.finance?.snapshots ?? []).map((c) => c.record),
  ]);
  for (const id of used) if (!pack.records.some((r) => r.id === id)) add({ check: 'summary', path: 'records', derived: id, message: `record ${id} is used but not listed` });
  if (source.kind === 'stores') {
    for (const [i, r] of pack.records.entries()) {
      const rec = await source.registry.getRecord(r.id);
      if (!rec) add({ check: 'records', path: `records[${i}]`, pack: r, message: `record ${r.id} is not in the registry` });
      else compare('records', `records[${i}]`, r, { id: rec.id, kind: rec.kind, key: rec.key, recordedAtMs: rec.recordedAtMs }, `record ${r.id}`);
    }
  }

  return { ok: valid && differences.length === 0 && omitted === 0, source: source.kind, signature: { valid, fingerprint, trustedKey: Boolean(options.publicKeyPem), digest }, checked: counts, differences, omitted, notes };
}

/** The verification report as text lines for people. */
export function formatVerifyReport(report: VerifyReport, pack: Pack): string {
  const s = pack.subject;
  const subject = s.kind === 'building' ? `building ${s.site}/${s.building}` : `${s.kind} ${s.id}`;
  const lines = [
    `Pack: ${subject}, ${pack.period.from} – ${pack.period.to} (${pack.period.timeZone}), as of ${new Date(pack.asOfMs).toISOString()}, generated ${pack.generatedAt}`,
    `Digest: ${report.signature.digest}`,
    `Signature: ${report.signature.valid ? 'valid' : 'INVALID'} (Ed25519, key ${report.signature.fingerprint ?? 'unreadable'}${report.signature.trustedKey ? ', the trusted key' : ', embedded key'})`,
    `Data: ${report.source === 'export' ? 'the export directory' : 'the configured stores'}`,
    `Checked: ${report.checked.series} series, ${report.checked.days} daily roots, ${report.checked.readings} readings, ${report.checked.results} M&V results, ${report.checked.qualityStatements} data-quality statements` +
      `${report.checked.covenantTests ? `, ${report.checked.covenantTests} covenant tests` : ''}${report.checked.snapshots ? `, ${report.checked.snapshots} readings snapshots` : ''}${report.checked.settlements ? `, ${report.checked.settlements} settlements` : ''} (${report.checked.figures} numbers)`,
    ...report.notes.map((n) => `Note: ${n}`),
  ];
  if (report.ok) {
    lines.push('Result: OK, every figure re-derived identically, every digest matches, the signature is valid.');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`Result: FAILED, ${report.differences.length + report.omitted} difference${report.differences.length + report.omitted === 1 ? '' : 's'}:`);
  const show = (v: unknown) => {
    const t = JSON.stringify(v);
    return t === undefined ? '(none)' : t.length > 160 ? `${t.slice(0, 157)}...` : t;
  };
  for (const d of report.differences) {
    lines.push(`  [${d.check}] ${d.path}: ${d.message}`);
    if ('pack' in d || 'derived' in d) lines.push(`      pack: ${show(d.pack)}   re-derived: ${show(d.derived)}`);
  }
  if (report.omitted) lines.push(`  ... and ${report.omitted} more`);
  return `${lines.join('\n')}\n`;
}
