/**
 * Loan and policy packs: the stored covenant tests (`finance.covenant_test`) or settlements
 * (`finance.settlement`) of a period as of an instant, with everything needed to re-derive them:
 * the loan or policy versions, the KPI observations, the M&V results and the Merkle roots of the
 * readings they used, the readings snapshots (`finance.kpi_inputs`) with the readings they sum,
 * and the building profiles in force.
 */
import { buildingProfileSource, createZone, digestOf, FINANCE_RECORD_KINDS, isFinanceRegistry, RECORD_KINDS, type CovenantTestBody, type FinanceRegistry, type KpiInputsSnapshot, type ResultRecordBody, type SettlementBody } from '@wattproof/analytics';
import type { BuildingProfile, BuildingRef, FinanceVersion, Loan, Policy, RegistryStore, StoredRecord } from '@wattproof/core';
import { assemble, type AddSeries, type AssembledPack, type FinanceExtra, type PackDeps, type PeriodRequest } from './build.js';
import { packError } from './errors.js';
import type { SeriesReading } from './merkle.js';
import type { PackBuilding, PackCovenantTest, PackFinanceVersion, PackRecordRef, PackSettlement, PackSnapshot } from './types.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const PAGE = 1000;
const DEFAULT_TIME_ZONE = 'Asia/Shanghai';

function requireFinance(registry: RegistryStore): FinanceRegistry {
  if (!isFinanceRegistry(registry)) throw packError('PACK_SUBJECT_NOT_FOUND', 'this registry keeps no finance registry (loans, policies): loan and policy packs need one');
  return registry;
}

function checkPeriod(req: PeriodRequest): void {
  if (!DATE.test(req.from) || !DATE.test(req.to)) throw packError('PACK_REQUEST_INVALID', `the period must be two local dates YYYY-MM-DD, got ${req.from} – ${req.to}`);
  if (req.from >= req.to) throw packError('PACK_REQUEST_INVALID', `the period's end ${req.to} must be after its start ${req.from} (the end is exclusive)`);
  if (req.asOfMs !== undefined && !Number.isSafeInteger(req.asOfMs)) throw packError('PACK_REQUEST_INVALID', 'asOf must be an instant');
}

async function recordsOf(registry: RegistryStore, kind: string, keyPrefix: string, asOfMs: number): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await registry.listRecords({ kind, keyPrefix, limit: PAGE, ...(before ? { before } : {}) });
    out.push(...page.filter((r) => r.recordedAtMs <= asOfMs));
    if (page.length < PAGE) return out;
    before = page[page.length - 1]!.id;
  }
}

const versionOf = <T>(prefix: string, v: FinanceVersion<T>, id: string): PackFinanceVersion<T> => ({ id: `${prefix}:${id}#v${v.version}`, version: v.version, recordedAtMs: v.recordedAtMs, digest: digestOf(v.value), value: JSON.parse(JSON.stringify(v.value)) as T });

export function profileVersion(p: FinanceVersion<BuildingProfile>): PackFinanceVersion<BuildingProfile> {
  const src = buildingProfileSource(p);
  return { id: src.resultId, version: p.version, recordedAtMs: p.recordedAtMs, digest: src.digest, value: JSON.parse(JSON.stringify(p.value)) as BuildingProfile };
}

const refOf = (r: StoredRecord): PackRecordRef => ({ id: r.id, kind: r.kind, key: r.key, recordedAtMs: r.recordedAtMs });

/** Daily kWh and covered seconds of readings by local day start, as the reading store's 1-day aggregate sums them. */
export function dailySums(readings: readonly SeriesReading[], timeZone: string): Map<number, [number, number]> {
  const zone = createZone(timeZone);
  const out = new Map<number, [number, number]>();
  for (const r of [...readings].sort((a, b) => a.ts - b.ts)) {
    if (r.value === null) continue;
    const day = zone.startOfDay(zone.date(r.ts));
    const cur = out.get(day) ?? [0, 0];
    cur[0] += r.value;
    cur[1] += r.intervalS ?? 0;
    out.set(day, cur);
  }
  return out;
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** The snapshot's days compared with the daily sums of the readings (kWh within 1e-9 relative: stores may sum in another order; covered seconds exactly). */
export function snapshotCheck(body: KpiInputsSnapshot, readings: readonly SeriesReading[]): PackSnapshot['readings'] {
  const zone = createZone(body.timeZone);
  const sums = dailySums(readings, body.timeZone);
  const snap = new Map(body.days.map(([t, kwh, s]) => [t, [kwh, s] as [number, number]]));
  const differingDays: PackSnapshot['readings']['differingDays'] = [];
  for (const t of [...new Set([...snap.keys(), ...sums.keys()])].sort((a, b) => a - b)) {
    const a = snap.get(t) ?? null;
    const b = sums.get(t) ?? null;
    if (!a || !b || !close(a[0], b[0]) || a[1] !== b[1]) differingDays.push({ date: zone.date(t), snapshot: a, readings: b });
  }
  return { matches: differingDays.length === 0, days: body.days.length, differingDays };
}

async function buildingsOf(registry: RegistryStore, refs: readonly BuildingRef[]): Promise<PackBuilding[]> {
  const sites = await registry.listSites();
  const out: PackBuilding[] = [];
  for (const ref of refs) {
    const b = (await registry.listBuildings(ref.site)).find((x) => x.id === ref.building);
    out.push({
      site: ref.site,
      building: ref.building,
      ...(b?.name !== undefined ? { name: b.name } : {}),
      ...(b?.type !== undefined ? { type: b.type } : {}),
      ...(b?.floorAreaM2 !== undefined ? { floorAreaM2: b.floorAreaM2 } : {}),
      timeZone: sites.find((s) => s.id === ref.site)?.timezone ?? DEFAULT_TIME_ZONE,
    });
  }
  return out;
}

async function mvRecords(registry: RegistryStore, ids: Iterable<string>): Promise<Array<StoredRecord & { body: ResultRecordBody }>> {
  const out: Array<StoredRecord & { body: ResultRecordBody }> = [];
  for (const id of [...new Set(ids)].sort()) {
    const r = await registry.getRecord(id);
    if (!r || r.kind !== RECORD_KINDS.result) throw packError('PACK_INPUTS_MISSING', `the M&V result ${id} named by the evidence is not in the registry`, { details: { result: id } });
    out.push(r as StoredRecord & { body: ResultRecordBody });
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
}

/** Newest record per `pick(record)` (records come newest first). */
function newestBy<T extends StoredRecord>(records: readonly T[], pick: (r: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const r of records) if (!seen.has(pick(r))) seen.set(pick(r), r);
  return [...seen.values()];
}

/**
 * A loan pack: the loan as of `asOfMs`, and the newest stored test of each covenant and test date
 * in (from, to] (a test on date D is about the window ending at D) recorded by then.
 * @throws WattproofError PACK_REQUEST_INVALID, PACK_SUBJECT_NOT_FOUND, PACK_NO_RESULTS, PACK_INPUTS_MISSING.
 */
export async function assembleLoanPack(deps: PackDeps, req: PeriodRequest & { readonly loanId: string }): Promise<AssembledPack> {
  checkPeriod(req);
  const reg = requireFinance(deps.registry);
  const now = (deps.clock ?? Date.now)();
  const asOfMs = req.asOfMs ?? now;
  const loan = await reg.getLoan(req.loanId, { asOfMs });
  if (!loan) throw packError('PACK_SUBJECT_NOT_FOUND', `no loan ${req.loanId} as of ${new Date(asOfMs).toISOString()}`, { details: { loanId: req.loanId, asOfMs } });
  const all = (await recordsOf(reg, FINANCE_RECORD_KINDS.covenantTest, `${req.loanId}/`, asOfMs)) as Array<StoredRecord & { body: CovenantTestBody }>;
  const tests = newestBy(
    all.filter((r) => r.body.loanId === req.loanId && r.body.testDate > req.from && r.body.testDate <= req.to),
    (r) => `${r.body.covenantId}|${r.body.testDate}`,
  ).sort((a, b) => (a.body.covenantId < b.body.covenantId ? -1 : a.body.covenantId > b.body.covenantId ? 1 : a.body.testDate < b.body.testDate ? -1 : 1));
  if (!tests.length) {
    throw packError('PACK_NO_RESULTS', `loan ${req.loanId} has no covenant test recorded by ${new Date(asOfMs).toISOString()} with a test date in (${req.from}, ${req.to}]: run the tests first (wattproof covenant test)`, {
      details: { loanId: req.loanId, from: req.from, to: req.to, asOfMs },
    });
  }
  const buildings = await buildingsOf(reg, loan.value.buildings);
  const timeZone = String(tests[0]!.body.lineage.settings.timeZone ?? buildings[0]?.timeZone ?? DEFAULT_TIME_ZONE);
  const results = await mvRecords(reg, tests.flatMap((t) => t.body.evidence.records.filter((u) => u.kind === RECORD_KINDS.result).map((u) => u.id)));

  const finance = async (addSeries: AddSeries): Promise<FinanceExtra> => {
    const versions = new Map<string, PackFinanceVersion<Loan>>();
    const profiles = new Map<string, PackFinanceVersion<BuildingProfile>>();
    const snapshots = new Map<string, PackSnapshot>();
    const records: PackRecordRef[] = [];
    const warnings: FinanceExtra['warnings'] = [];
    const covenants: PackCovenantTest[] = [];
    for (const t of tests) {
      const b = t.body;
      const used = await reg.getLoan(b.loanId, { asOfMs: b.asOfMs });
      if (!used || used.version !== b.loanVersion) throw packError('PACK_INPUTS_MISSING', `version ${b.loanVersion} of loan ${b.loanId} that covenant test ${t.id} used is not in the registry`, { details: { record: t.id } });
      const v = versionOf('loan', used, b.loanId);
      versions.set(v.id, v);
      const spec = used.value.covenants.find((c) => c.id === b.covenantId);
      if (!spec) throw packError('PACK_INPUTS_MISSING', `loan ${b.loanId} v${b.loanVersion} has no covenant ${b.covenantId}`, { details: { record: t.id } });
      if (!Array.isArray(b.evidence.kpiObservations)) {
        throw packError('PACK_INPUTS_MISSING', `covenant test ${t.id} stores no KPI observations (recorded by an older version): re-run the test as of ${new Date(b.asOfMs).toISOString()} to store them`, { details: { record: t.id } });
      }
      records.push(refOf(t));
      // The profiles the KPI read.
      const profileIds: string[] = [];
      const profilesOn: Record<string, string | null> = {};
      if (spec.kpi === 'label_maintained') {
        for (const p of await reg.listBuildingProfiles({ asOfMs: b.asOfMs, site: spec.scope.site, building: spec.scope.building })) {
          const pv = profileVersion(p);
          profiles.set(pv.id, pv);
          profileIds.push(pv.id);
        }
      }
      for (const u of b.evidence.records) {
        if (u.kind !== FINANCE_RECORD_KINDS.kpiInputs || snapshots.has(u.id)) continue;
        const rec = await reg.getRecord(u.id);
        if (!rec || rec.kind !== FINANCE_RECORD_KINDS.kpiInputs) throw packError('PACK_INPUTS_MISSING', `the readings snapshot ${u.id} of covenant test ${t.id} is not in the registry`, { details: { record: t.id, snapshot: u.id } });
        const body = rec.body as KpiInputsSnapshot;
        const zone = createZone(body.timeZone);
        const window = { from: zone.startOfDay(body.from), to: zone.startOfDay(body.to) };
        const rows = await deps.readings.query({ ...body.meter, quantity: body.quantity, kind: body.kind, from: window.from, to: window.to, limit: 2_000_000 });
        const readings: SeriesReading[] = rows.map((r) => ({ ts: r.ts, value: r.value, ...(r.intervalS !== undefined ? { intervalS: r.intervalS } : {}) }));
        const unit = rows[0]?.unit ?? (await deps.readings.listSeries(body.meter)).find((s) => s.quantity === body.quantity && s.kind === body.kind)?.unit ?? 'kWh';
        const series = await addSeries({ ...body.meter, quantity: body.quantity, kind: body.kind, unit }, readings, window);
        const check = snapshotCheck(body, readings);
        if (!check.matches) {
          warnings.push({ code: 'pack.snapshot_differs_from_readings', message: `the readings of ${series} were corrected after snapshot ${rec.id} was recorded (${check.differingDays.length} day(s) differ); the covenant figures rest on the snapshot`, data: { snapshot: rec.id, series, days: check.differingDays.map((d) => d.date) } });
        }
        snapshots.set(rec.id, { record: rec.id, key: rec.key, recordedAtMs: rec.recordedAtMs, body: JSON.parse(JSON.stringify(body)) as KpiInputsSnapshot, series, readings: check });
        records.push(refOf(rec));
      }
      if (spec.kpi === 'eui_kwh_per_m2' || spec.kpi === 'carbon_intensity_kgco2e_per_m2') {
        for (const o of b.evidence.kpiObservations) {
          const date = o.window.end;
          const last = createZone(timeZone).date(createZone(timeZone).startOfDay(date) - 1);
          if (last in profilesOn) continue;
          const p = await reg.getBuildingProfile({ site: spec.scope.site, building: spec.scope.building }, { effectiveOn: last, asOfMs: b.asOfMs });
          if (p) profiles.set(profileVersion(p).id, profileVersion(p));
          profilesOn[last] = p ? profileVersion(p).id : null;
        }
      }
      covenants.push({
        record: t.id,
        recordedAtMs: t.recordedAtMs,
        covenantId: b.covenantId,
        testDate: b.testDate,
        asOfMs: b.asOfMs,
        loanVersion: b.loanVersion,
        spec: JSON.parse(JSON.stringify(spec)) as PackCovenantTest['spec'],
        evaluation: b.evaluation,
        observations: b.evidence.kpiObservations,
        observationsDigest: b.evidence.observationsDigest,
        evidence: b.evidence.records,
        notes: b.evidence.notes,
        profiles: profileIds,
        profilesOn,
        lineage: b.lineage,
      });
    }
    return {
      covenants,
      settlements: [],
      finance: { loan: versionOf('loan', loan, loan.value.id), versions: [...versions.values()], profiles: [...profiles.values()].sort((a, b) => (a.id < b.id ? -1 : 1)), snapshots: [...snapshots.values()] },
      records,
      warnings,
    };
  };
  return assemble(deps, { kind: 'loan', id: req.loanId }, { from: req.from, to: req.to, timeZone }, buildings, results, asOfMs, now, { finance });
}

/**
 * A policy pack: the policy as of `asOfMs` and the newest stored settlement of each of its periods
 * inside [from, to) (or of the one `periodId`) recorded by then.
 * @throws WattproofError PACK_REQUEST_INVALID, PACK_SUBJECT_NOT_FOUND, PACK_NO_RESULTS, PACK_INPUTS_MISSING.
 */
export async function assemblePolicyPack(deps: PackDeps, req: { readonly policyId: string; readonly periodId?: string; readonly from?: string; readonly to?: string; readonly asOfMs?: number }): Promise<AssembledPack> {
  const reg = requireFinance(deps.registry);
  const now = (deps.clock ?? Date.now)();
  const asOfMs = req.asOfMs ?? now;
  if (req.asOfMs !== undefined && !Number.isSafeInteger(req.asOfMs)) throw packError('PACK_REQUEST_INVALID', 'asOf must be an instant');
  const policy = await reg.getPolicy(req.policyId, { asOfMs });
  if (!policy) throw packError('PACK_SUBJECT_NOT_FOUND', `no policy ${req.policyId} as of ${new Date(asOfMs).toISOString()}`, { details: { policyId: req.policyId, asOfMs } });
  let from: string;
  let to: string;
  let periods: string[];
  if (req.periodId !== undefined) {
    const p = policy.value.periods.find((x) => x.id === req.periodId);
    if (!p) throw packError('PACK_SUBJECT_NOT_FOUND', `policy ${req.policyId} has no period ${req.periodId} (periods: ${policy.value.periods.map((x) => x.id).join(', ')})`, { details: { policyId: req.policyId, periodId: req.periodId } });
    ({ from, to } = p);
    periods = [p.id];
  } else {
    if (req.from === undefined || req.to === undefined) throw packError('PACK_REQUEST_INVALID', 'a policy pack needs a period id, or from and to');
    checkPeriod({ from: req.from, to: req.to });
    from = req.from;
    to = req.to;
    periods = policy.value.periods.filter((p) => p.from >= from && p.to <= to).map((p) => p.id);
  }
  const all = (await recordsOf(reg, FINANCE_RECORD_KINDS.settlement, `${req.policyId}/`, asOfMs)) as Array<StoredRecord & { body: SettlementBody }>;
  const settled = newestBy(
    all.filter((r) => r.body.policyId === req.policyId && periods.includes(r.body.periodId)),
    (r) => r.body.periodId,
  ).sort((a, b) => periods.indexOf(a.body.periodId) - periods.indexOf(b.body.periodId));
  if (!settled.length) {
    throw packError('PACK_NO_RESULTS', `policy ${req.policyId} has no settlement recorded by ${new Date(asOfMs).toISOString()} of a period in [${from}, ${to}): settle it first (wattproof policy settle)`, {
      details: { policyId: req.policyId, from, to, asOfMs },
    });
  }
  const buildings = await buildingsOf(reg, policy.value.buildings);
  const results = await mvRecords(reg, settled.flatMap((s) => s.body.evidence.records.filter((u) => u.kind === RECORD_KINDS.result).map((u) => u.id)));
  const finance = async (): Promise<FinanceExtra> => {
    const versions = new Map<string, PackFinanceVersion<Policy>>();
    const settlements: PackSettlement[] = [];
    for (const s of settled) {
      const b = s.body;
      const used = await reg.getPolicy(b.policyId, { asOfMs: b.asOfMs });
      if (!used || used.version !== b.policyVersion) throw packError('PACK_INPUTS_MISSING', `version ${b.policyVersion} of policy ${b.policyId} that settlement ${s.id} used is not in the registry`, { details: { record: s.id } });
      const v = versionOf('policy', used, b.policyId);
      versions.set(v.id, v);
      settlements.push({ record: s.id, recordedAtMs: s.recordedAtMs, periodId: b.periodId, asOfMs: b.asOfMs, policyVersion: b.policyVersion, claim: b.claim, evidence: b.evidence.records, lineage: b.lineage });
    }
    return { covenants: [], settlements, finance: { policy: versionOf('policy', policy, policy.value.id), versions: [...versions.values()], profiles: [], snapshots: [] }, records: settled.map(refOf), warnings: [] };
  };
  return assemble(deps, { kind: 'policy', id: req.policyId }, { from, to, timeZone: buildings[0]?.timeZone ?? DEFAULT_TIME_ZONE }, buildings, results, asOfMs, now, { finance });
}
