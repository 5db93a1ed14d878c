/**
 * Verifying the finance part of a loan or policy pack: every covenant test re-evaluated
 * (`evaluateCovenant`) from the pack's KPI observations, and those observations re-derived from
 * the pack's M&V results, readings snapshots and building profiles; every readings snapshot
 * checked against the daily sums of the readings (stores or export); every settlement's claim
 * re-derived (`verifiedSavingsFromAnalyses`, `settlePeriod`) from the pack's M&V results; the
 * service lineages recomputed; with the stores, the stored records compared too.
 */
import {
  canonicalJson,
  claimFromResults,
  digestOf,
  evaluateCovenant,
  financeLineage,
  FINANCE_RECORD_KINDS,
  FINANCE_SERVICE_METHOD,
  FINANCE_SERVICE_METHOD_VERSION,
  isFinanceRegistry,
  labelObservation,
  normalizedSavingsObservation,
  RECORD_KINDS,
  savingsFractionObservations,
  snapshotObservations,
  type CovenantTestBody,
  type KpiObservation,
  type SettlementBody,
} from '@wattproof/analytics';
import type { BuildingProfile, FinanceVersion, Loan, Policy } from '@wattproof/core';
import { snapshotCheck } from './finance.js';
import type { SeriesReading } from './merkle.js';
import type { Pack, PackFinanceVersion } from './types.js';
import type { DifferenceCheck, PackDifference, VerifySource } from './verify.js';

export interface FinanceVerifyContext {
  readonly source: VerifySource;
  readonly byId: ReadonlyMap<string, SeriesReading[]>;
  readonly add: (d: PackDifference) => void;
  readonly compare: (check: DifferenceCheck, path: string, inPack: unknown, derived: unknown, what: string) => void;
  readonly counts: { covenantTests: number; settlements: number; snapshots: number };
}

const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
const asVersion = <T>(v: PackFinanceVersion<T>): FinanceVersion<T> => ({ value: v.value, version: v.version, recordedAtMs: v.recordedAtMs });
const obsKey = (o: KpiObservation) => `${o.kpi}|${o.window.start}|${o.window.end}|${o.scope.meter ?? ''}|${o.sources[0]?.resultId ?? ''}`;

export async function verifyFinance(pack: Pack, ctx: FinanceVerifyContext): Promise<void> {
  const { add, compare, source } = ctx;
  const fin = pack.finance;
  if (!pack.covenants.length && !pack.settlements.length) return;
  if (!fin) {
    add({ check: 'figures', path: 'finance', message: 'the pack has covenant tests or settlements but no finance section (versions, profiles, snapshots) to re-derive them from' });
    return;
  }
  const registry = source.kind === 'stores' && isFinanceRegistry(source.registry) ? source.registry : undefined;
  const versions = new Map(fin.versions.map((v) => [v.id, v]));
  const profiles = new Map(fin.profiles.map((p) => [p.id, p]));
  const mvById = new Map(pack.mv.map((m) => [m.resultRecord, m]));

  // Digests of the finance versions the pack holds.
  for (const [i, v] of fin.versions.entries()) compare('figures', `finance.versions[${i}].digest`, v.digest, digestOf(v.value), `digest of ${v.id}`);
  for (const [i, p] of fin.profiles.entries()) compare('figures', `finance.profiles[${i}].digest`, p.digest, digestOf(p.value), `digest of ${p.id}`);
  if (fin.loan) compare('figures', 'finance.loan.digest', fin.loan.digest, digestOf(fin.loan.value), `digest of ${fin.loan.id}`);
  if (fin.policy) compare('figures', 'finance.policy.digest', fin.policy.digest, digestOf(fin.policy.value), `digest of ${fin.policy.id}`);

  // Readings snapshots: their own digest, and the daily sums of the readings (stores or export).
  for (const [i, s] of fin.snapshots.entries()) {
    ctx.counts.snapshots++;
    const base = `finance.snapshots[${i}]`;
    const { digest, ...content } = s.body;
    compare('figures', `${base}.body.digest`, digest, digestOf(content), `digest of readings snapshot ${s.record}`);
    const readings = ctx.byId.get(s.series);
    if (!readings) add({ check: 'inputs', path: `${base}.series`, pack: s.series, message: `snapshot ${s.record} names a series the pack does not have` });
    else compare('inputs', `${base}.readings`, plain(s.readings), plain(snapshotCheck(s.body, readings)), `daily sums of ${s.series} against snapshot ${s.record}`);
    if (registry) {
      const rec = await registry.getRecord(s.record);
      if (!rec || rec.kind !== FINANCE_RECORD_KINDS.kpiInputs) add({ check: 'records', path: `${base}.record`, pack: s.record, message: `the readings snapshot ${s.record} is not in the registry` });
      else compare('records', `${base}.body`, s.body, plain(rec.body), `stored readings snapshot ${s.record}`);
    }
  }
  const snapshots = new Map(fin.snapshots.map((s) => [s.record, s]));

  for (const [i, t] of pack.covenants.entries()) {
    ctx.counts.covenantTests++;
    const base = `covenants[${i}]`;
    const what = `covenant ${t.covenantId} on ${t.testDate}`;
    const loanV = versions.get(`loan:${pack.subject.kind === 'loan' ? pack.subject.id : ''}#v${t.loanVersion}`) as PackFinanceVersion<Loan> | undefined;
    if (!loanV) {
      add({ check: 'figures', path: `${base}.loanVersion`, pack: t.loanVersion, message: `${what}: the pack does not hold the loan version it used` });
      continue;
    }
    const usedLoan = t.evidence.find((u) => u.kind === 'finance.loan');
    compare('figures', `${base}.evidence.loan.digest`, usedLoan?.digest, loanV.digest, `${what}: digest of the loan version used`);
    compare('figures', `${base}.spec`, t.spec, plain(loanV.value.covenants.find((c) => c.id === t.covenantId) ?? null), `${what}: covenant terms of loan v${t.loanVersion}`);
    const settings = t.lineage.settings as { timeZone: string; minCoverage: number; region: 'CN' | string; basis: 'location' | 'market' };

    // 1. The observations re-derived from the pack's M&V results, snapshots and profiles.
    const derived: KpiObservation[] = [];
    const spec = t.spec;
    if (spec.kpi === 'savings_fraction') {
      for (const u of t.evidence.filter((x) => x.kind === RECORD_KINDS.result)) {
        const m = mvById.get(u.id);
        if (!m) {
          add({ check: 'figures', path: `${base}.evidence`, derived: u.id, message: `${what}: M&V result ${u.id} is used but not in the pack` });
          continue;
        }
        const c = { scope: { site: spec.scope.site, building: spec.scope.building, meter: m.meter.meter }, resultId: m.resultRecord, recordedAtMs: m.recordedAtMs, windowMonths: spec.schedule.measurementWindowMonths };
        derived.push(...(spec.kpiOptions?.normalized ? normalizedSavingsObservation(m.result, c) : savingsFractionObservations(m.result, c)));
      }
    } else if (spec.kpi === 'label_maintained') {
      const list = t.profiles.map((id) => profiles.get(id)).filter((p): p is PackFinanceVersion<BuildingProfile> => p !== undefined);
      if (list.length !== t.profiles.length) add({ check: 'figures', path: `${base}.profiles`, pack: t.profiles, message: `${what}: names building profiles the pack does not hold` });
      const inForce = list.filter((p) => p.value.effectiveFrom <= t.testDate).sort((a, b) => (a.value.effectiveFrom < b.value.effectiveFrom ? 1 : a.value.effectiveFrom > b.value.effectiveFrom ? -1 : 0))[0];
      derived.push(labelObservation(list.map((p) => p.value), { scope: spec.scope, testDate: t.testDate, windowMonths: spec.schedule.measurementWindowMonths, recordedAtMs: inForce?.recordedAtMs ?? 0 }));
      if (registry) {
        const now = (await registry.listBuildingProfiles({ asOfMs: t.asOfMs, site: spec.scope.site, building: spec.scope.building })).map((p) => `building-profile:${p.value.site}/${p.value.building}@${p.value.effectiveFrom}#v${p.version}`);
        compare('records', `${base}.profiles`, t.profiles, now, `${what}: building profiles in the registry as of the test`);
      }
    } else {
      const snapId = t.evidence.find((u) => u.kind === FINANCE_RECORD_KINDS.kpiInputs)?.id;
      const snap = snapId ? snapshots.get(snapId) : undefined;
      if (snapId && !snap) add({ check: 'figures', path: `${base}.evidence`, derived: snapId, message: `${what}: readings snapshot ${snapId} is used but not in the pack` });
      if (snap) {
        const profileOn = (date: string) => {
          const id = t.profilesOn[date];
          const p = id ? profiles.get(id) : undefined;
          return p ? asVersion(p) : undefined;
        };
        derived.push(...snapshotObservations(spec, t.testDate, snap.body.meter, { id: snap.record, recordedAtMs: snap.recordedAtMs, body: snap.body }, profileOn, { timeZone: settings.timeZone, region: settings.region, basis: settings.basis }).observations);
        if (registry) {
          for (const date of Object.keys(t.profilesOn).sort()) {
            const p = await registry.getBuildingProfile({ site: spec.scope.site, building: spec.scope.building }, { effectiveOn: date, asOfMs: t.asOfMs });
            compare('records', `${base}.profilesOn[${JSON.stringify(date)}]`, t.profilesOn[date], p ? `building-profile:${p.value.site}/${p.value.building}@${p.value.effectiveFrom}#v${p.version}` : null, `${what}: profile in force on ${date}`);
          }
        }
      }
    }
    const derivedByKey = new Map(derived.map((o) => [obsKey(o), o]));
    const seen = new Set<string>();
    for (const [j, o] of t.observations.entries()) {
      const k = obsKey(o);
      seen.add(k);
      const d = derivedByKey.get(k);
      if (!d) add({ check: 'figures', path: `${base}.observations[${j}]`, pack: { kpi: o.kpi, window: o.window, value: o.value }, message: `${what}: this observation is not re-derived from the pack's evidence` });
      else compare('figures', `${base}.observations[${j}]`, o, plain(d), `${what}: KPI observation`);
    }
    for (const d of derived) if (!seen.has(obsKey(d))) add({ check: 'figures', path: `${base}.observations`, derived: { kpi: d.kpi, window: d.window, value: d.value }, message: `${what}: an observation re-derived from the evidence is missing from the pack` });

    // 2. The evaluation re-run from the pack's observations.
    compare('figures', `${base}.observationsDigest`, t.observationsDigest, digestOf(t.observations.map((o) => canonicalJson(o)).sort()), `${what}: digest of the observations`);
    try {
      const evaluation = evaluateCovenant(spec, t.observations, { testDate: t.testDate, asOfMs: t.asOfMs, timeZone: settings.timeZone, minCoverage: settings.minCoverage });
      compare('figures', `${base}.evaluation`, t.evaluation, plain(evaluation), `${what}: evaluation`);
      const lineage = financeLineage(
        FINANCE_SERVICE_METHOD,
        FINANCE_SERVICE_METHOD_VERSION,
        { loan: loanV.digest, records: t.evidence, observationsDigest: t.observationsDigest, evaluation: evaluation.lineage.digest },
        t.lineage.settings,
        evaluation.lineage.referenceData,
      );
      compare('figures', `${base}.lineage`, t.lineage, plain(lineage), `${what}: lineage of the stored test`);
    } catch (err) {
      add({ check: 'figures', path: `${base}.evaluation`, message: `${what}: the evaluation could not be re-run: ${(err as Error).message}` });
    }

    // 3. The stored record.
    if (registry) {
      const rec = await registry.getRecord(t.record);
      if (!rec || rec.kind !== FINANCE_RECORD_KINDS.covenantTest) add({ check: 'records', path: `${base}.record`, pack: t.record, message: `the covenant test ${t.record} is not in the registry` });
      else {
        const b = rec.body as CovenantTestBody;
        compare('records', base, plain({ evaluation: t.evaluation, observations: t.observations, evidence: t.evidence, lineage: t.lineage, testDate: t.testDate, asOfMs: t.asOfMs }), plain({ evaluation: b.evaluation, observations: b.evidence.kpiObservations, evidence: b.evidence.records, lineage: b.lineage, testDate: b.testDate, asOfMs: b.asOfMs }), `stored covenant test ${t.record}`);
      }
    }
  }

  for (const [i, s] of pack.settlements.entries()) {
    ctx.counts.settlements++;
    const base = `settlements[${i}]`;
    const what = `settlement of period ${s.periodId}`;
    const policyV = versions.get(`policy:${pack.subject.kind === 'policy' ? pack.subject.id : ''}#v${s.policyVersion}`) as PackFinanceVersion<Policy> | undefined;
    if (!policyV) {
      add({ check: 'figures', path: `${base}.policyVersion`, pack: s.policyVersion, message: `${what}: the pack does not hold the policy version it used` });
      continue;
    }
    compare('figures', `${base}.evidence.policy.digest`, s.evidence.find((u) => u.kind === 'finance.policy')?.digest, policyV.digest, `${what}: digest of the policy version used`);
    const period = policyV.value.periods.find((p) => p.id === s.periodId);
    const chosen = [];
    let missing = false;
    for (const src of s.claim.inputs.verified.sources) {
      const m = mvById.get(src.resultId);
      if (!m) {
        add({ check: 'figures', path: `${base}.claim.inputs.verified.sources`, derived: src.resultId, message: `${what}: M&V result ${src.resultId} is used but not in the pack` });
        missing = true;
        continue;
      }
      chosen.push({ resultId: m.resultRecord, result: m.result, exact: period !== undefined && m.definition.reporting.start === period.from && m.definition.reporting.end === period.to });
    }
    if (!missing) {
      try {
        const claim = claimFromResults(policyV.value, s.periodId, chosen);
        // The service appends its run notes to the claim's warnings: keep the pack's trailing ones.
        const notes = s.claim.warnings.slice(claim.warnings.length);
        compare('figures', `${base}.claim`, s.claim, plain({ ...claim, warnings: [...claim.warnings, ...notes] }), `${what}: claim`);
        const lineage = financeLineage(FINANCE_SERVICE_METHOD, FINANCE_SERVICE_METHOD_VERSION, { policy: policyV.digest, records: s.evidence, claim: claim.lineage.digest }, s.lineage.settings, claim.lineage.referenceData);
        compare('figures', `${base}.lineage`, s.lineage, plain(lineage), `${what}: lineage of the stored settlement`);
      } catch (err) {
        add({ check: 'figures', path: `${base}.claim`, message: `${what}: the claim could not be re-derived: ${(err as Error).message}` });
      }
    }
    if (registry) {
      const rec = await registry.getRecord(s.record);
      if (!rec || rec.kind !== FINANCE_RECORD_KINDS.settlement) add({ check: 'records', path: `${base}.record`, pack: s.record, message: `the settlement ${s.record} is not in the registry` });
      else {
        const b = rec.body as SettlementBody;
        compare('records', base, plain({ claim: s.claim, evidence: s.evidence, lineage: s.lineage, asOfMs: s.asOfMs }), plain({ claim: b.claim, evidence: b.evidence.records, lineage: b.lineage, asOfMs: b.asOfMs }), `stored settlement ${s.record}`);
      }
    }
  }
}
