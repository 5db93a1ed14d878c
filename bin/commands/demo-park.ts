/**
 * The default demo of `wattproof start`: a small Yuzhong (Chongqing) park of five buildings of
 * different types driven by the full simulator. Its history (a year of baseline before a chiller
 * retrofit and the months since, hourly) is backfilled through the gateway — resuming where a
 * previous run stopped — then every meter publishes each 15-minute interval in real time. When
 * the history is in, the hotel's retrofit is analysed (CalTRACK daily, stored with its lineage)
 * and its verified savings are printed next to the true savings from the ground-truth file.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isFinanceRegistry, type FinanceRegistry, type FinanceService, type MvJobs } from '@wattproof/analytics';
import type { ReadingStore, RegistryStore } from '@wattproof/core';
import { provisionAggregator, provisionDevice } from '@wattproof/gateway';
import {
  chongqingDemoPark,
  chongqingDemoParkTimeline,
  chongqingTypicalYear,
  createBuildingModel,
  createSimulationRun,
  groundTruth,
  portfolioFromSpecs,
  writeGroundTruth,
  YUZHONG_DEMO_SITE,
  type Portfolio,
  type SimulationRun,
} from '@wattproof/simulators';

const H = 3_600_000;
/** The building whose retrofit the demo verifies, and its main meter. */
export const DEMO_RETROFIT_METER = { site: YUZHONG_DEMO_SITE.id, building: 'yz-hotel', meter: 'elec-main' } as const;
/** The park's weather station (outdoor temperature). */
export const DEMO_WEATHER_METER = { site: YUZHONG_DEMO_SITE.id, building: 'weather', meter: 'station' } as const;

function demoPortfolio(now: number, intervalS: number): Portfolio {
  const p = portfolioFromSpecs(
    { id: YUZHONG_DEMO_SITE.id, name: YUZHONG_DEMO_SITE.name, timezone: YUZHONG_DEMO_SITE.timeZone, latitude: YUZHONG_DEMO_SITE.latitudeDeg, longitude: YUZHONG_DEMO_SITE.longitudeDeg },
    chongqingDemoPark(now),
    { intervalS, seed: 2026 },
  );
  // Electricity main and end-use sub-meters, PV, and the weather station: what the demo shows.
  return { ...p, buildings: p.buildings.map((b) => ({ ...b, meters: b.meters.filter((m) => m.id.startsWith('elec-') && m.id !== 'elec-register' || m.id === 'pv') })) };
}

export interface DemoParkDeps {
  readonly url: string;
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly jobs: MvJobs;
  readonly logger: Logger;
  readonly dataDir: string;
  readonly print: (line: string) => void;
  /** Runs once the history is stored and analysed, before live publishing (e.g. a first alert evaluation). */
  readonly afterHistory?: () => Promise<unknown>;
  /** With it, the demo loads its finance registry (a loan and a policy on yz-hotel) and runs their first covenant tests and settlement. */
  readonly finance?: FinanceService;
}

/** The demo's sustainability-linked loan and energy-savings policy on yz-hotel. */
export const DEMO_LOAN_ID = 'slb-yz-hotel';
export const DEMO_POLICY_ID = 'esi-yz-hotel-chiller';

/** `YYYY-MM-01` plus `months` (the demo's dates are month starts). */
function monthStart(date: string, months: number): string {
  const [y, m] = date.split('-').map(Number) as [number, number];
  const index = y * 12 + (m - 1) + months;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}-01`;
}

/**
 * The finance registry of the demo, on its own timeline (the dates move with today): the parties
 * and building profile of docs/examples/finance.yaml; a sustainability-linked loan on yz-hotel
 * originated two weeks before the chiller retrofit, with a metered-savings covenant tested
 * annually from a year after the retrofit (its first window is the first year of savings), a
 * quarterly data-coverage covenant and a 2-star label covenant; and an energy-savings policy
 * whose periods are the retrofit's years. Fictitious names and amounts.
 */
export function demoFinanceRegistry(timeline: { baselineFrom: string; retrofitFrom: string }, hotelFloorAreaM2: number) {
  const r = timeline.retrofitFrom;
  const site = DEMO_RETROFIT_METER.site;
  const hotel = { site, building: DEMO_RETROFIT_METER.building };
  const meter = { ...DEMO_RETROFIT_METER };
  const origination = `${monthStart(r, -1).slice(0, 8)}15`;
  const profile = { ...hotel, type: 'hotel' as const, floorAreaM2: hotelFloorAreaM2, ownerParty: 'yz-hotel-co', operatorParty: 'yz-hotel-co' };
  return {
    parties: [
      { id: 'cq-green-bank', name: 'Chongqing Green Demo Bank', nameZh: '重庆绿色示范银行', roles: ['bank' as const] },
      { id: 'yz-hotel-co', name: 'Yuzhong Riverside Hotel Co., Ltd.', nameZh: '渝中滨江酒店有限公司', roles: ['owner' as const, 'operator' as const] },
      { id: 'cq-perf-insurance', name: 'Chongqing Demo Property Insurance', nameZh: '重庆示范财产保险', roles: ['insurer' as const] },
      { id: 'yz-verifier', name: 'Independent M&V Verifier (demo)', roles: ['verifier' as const] },
    ],
    buildingProfiles: [
      { ...profile, effectiveFrom: timeline.baselineFrom },
      { ...profile, effectiveFrom: monthStart(r, 3), label: { scheme: 'GB/T 50378-2019' as const, level: '2-star' as const, kind: 'operation' as const, validFrom: monthStart(r, 3), validTo: monthStart(r, 39), certificateId: 'DEMO-CQ-0042' } },
    ],
    loan: {
      id: DEMO_LOAN_ID,
      borrower: 'yz-hotel-co',
      lender: 'cq-green-bank',
      kind: 'sustainability_linked_loan' as const,
      assetClass: 'commercial_real_estate' as const,
      currency: 'CNY' as const,
      buildings: [hotel],
      originationDate: origination,
      maturityDate: `${Number(origination.slice(0, 4)) + 7}${origination.slice(4)}`,
      propertyValueAtOriginationCny: 560_000_000,
      baseMarginBp: -10,
      covenants: [
        { id: 'savings-3pct', kpi: 'savings_fraction' as const, scope: meter, operator: '>=' as const, threshold: 0.03, schedule: { frequency: 'annual' as const, firstTestDate: monthStart(r, 12), measurementWindowMonths: 12 }, graceDays: 30, cure: { periods: 1 }, ratchet: { bpOnPass: -5, bpOnFail: 10 } },
        { id: 'coverage-95', kpi: 'data_coverage_fraction' as const, scope: meter, operator: '>=' as const, threshold: 0.95, schedule: { frequency: 'quarterly' as const, firstTestDate: monthStart(r, 3), measurementWindowMonths: 3 }, graceDays: 15 },
        { id: 'label-2-star', kpi: 'label_maintained' as const, scope: hotel, operator: '>=' as const, threshold: 2, schedule: { frequency: 'annual' as const, firstTestDate: monthStart(r, 12), measurementWindowMonths: 12 } },
      ],
    },
    balances: [
      { loanId: DEMO_LOAN_ID, effectiveFrom: origination, outstandingCny: 180_000_000 },
      { loanId: DEMO_LOAN_ID, effectiveFrom: `${Number(origination.slice(0, 4)) + 1}${origination.slice(4)}`, outstandingCny: 162_000_000 },
    ],
    policy: {
      id: DEMO_POLICY_ID,
      insurer: 'cq-perf-insurance',
      insured: 'yz-hotel-co',
      buildings: [hotel],
      meters: [meter],
      periods: [0, 1, 2].map((k) => ({ id: `year-${k + 1}`, from: monthStart(r, 12 * k), to: monthStart(r, 12 * (k + 1)), guaranteedSavingsKwh: 300_000 })),
      contractPriceCnyPerKwh: 0.85,
      deductibleCny: 20_000,
      limitCny: 300_000,
      premiumCny: 18_000,
      effectiveFrom: r,
      effectiveTo: monthStart(r, 36),
    },
  };
}

/** Stores the demo's finance registry (unchanged entries store nothing), then tests the loan's covenants and settles the policy's first year. */
async function runDemoFinance(deps: DemoParkDeps, finance: FinanceService, registry: FinanceRegistry, timeline: { baselineFrom: string; retrofitFrom: string }, hotelFloorAreaM2: number): Promise<void> {
  const data = demoFinanceRegistry(timeline, hotelFloorAreaM2);
  const o = () => ({ recordedAtMs: Date.now(), source: 'wattproof start (demo park)' });
  for (const p of data.parties) await registry.putParty(p, o());
  for (const p of data.buildingProfiles) await registry.putBuildingProfile(p, o());
  await registry.putLoan(data.loan, o());
  for (const b of data.balances) await registry.putLoanBalance(b, o());
  await registry.putPolicy(data.policy, o());
  const run = await finance.testCovenants(DEMO_LOAN_ID, { refresh: true });
  const tests = run.tests.map((t) => `${t.record.body.covenantId} ${t.record.body.evaluation.status}${t.record.body.evaluation.kpiValue !== null ? ` (${+t.record.body.evaluation.kpiValue.toFixed(4)})` : ''}`).join(', ');
  deps.print(`Finance: loan ${DEMO_LOAN_ID} covenant tests as of ${new Date(run.asOfMs).toISOString()}: ${tests} — GET /api/v1/finance/loans/${DEMO_LOAN_ID}/covenant-tests`);
  const { record } = await finance.settlePolicyPeriod(DEMO_POLICY_ID, 'year-1', { refresh: true });
  const f = record.body.claim.figures;
  deps.print(
    `Finance: policy ${DEMO_POLICY_ID} year-1 settled: verified ${Math.round(f.verifiedKwh).toLocaleString('en-US')} kWh of ${f.guaranteedKwh.toLocaleString('en-US')} guaranteed, payout CNY ${Math.round(f.payoutCny).toLocaleString('en-US')} — GET /api/v1/finance/policies/${DEMO_POLICY_ID}/settlements`,
  );
}

export function createDemoPark(deps: DemoParkDeps) {
  const now = Date.now();
  const timeline = chongqingDemoParkTimeline(now);
  const weather = chongqingTypicalYear();
  const simDeps = {
    provisionDevice: (ref: { site: string; building: string; meter: string }) => provisionDevice(deps.registry, ref, { rotate: true }),
    provisionAggregator: (site: string) => provisionAggregator(deps.registry, site, { rotate: true }),
    buildingModel: (spec: Parameters<typeof createBuildingModel>[0], w: Parameters<typeof createBuildingModel>[1]) => createBuildingModel(spec, w),
    weather: () => weather,
    registry: deps.registry,
    logger: deps.logger,
  };
  let backfill: SimulationRun | undefined;
  let live: SimulationRun | undefined;
  let stopped = false;

  return {
    timeline,
    buildings: chongqingDemoPark(now).length,
    async start(): Promise<void> {
      const baselineStart = Date.parse(`${timeline.baselineFrom}T00:00:00+08:00`);
      const end = Math.floor(now / H) * H;
      const latest = (await deps.readings.latest(DEMO_RETROFIT_METER)).find((r) => r.quantity === 'electricity' && r.kind === 'interval');
      const from = latest ? Math.max(baselineStart, Math.floor(latest.ts / H) * H + H) : baselineStart;
      const truth = groundTruth(chongqingDemoPark(now), weather, { from: baselineStart, to: end, timeZone: 'Asia/Shanghai' });
      writeGroundTruth(join(deps.dataDir, 'ground-truth'), truth);
      if (from < end) {
        deps.print(`Simulator: backfilling ${Math.round((end - from) / 86_400_000)} days of hourly history for the Yuzhong demo park…`);
        backfill = createSimulationRun(simDeps, { url: deps.url, mode: 'backfill', portfolio: demoPortfolio(now, 3600), fromMs: from, toMs: end, strategy: 'aggregator', progress: false });
        await backfill.start();
        const s = backfill.stats();
        deps.print(`Simulator: history published — ${s.readings.published} readings in ${(s.elapsedMs / 1000).toFixed(1)} s; waiting for the ingest to store it…`);
        // The broker has acknowledged everything; the ingest may still be writing. Wait until the
        // retrofit meter's last hour is stored (or give up after 10 minutes).
        const t0 = Date.now();
        for (;;) {
          if (stopped) return;
          const last = (await deps.readings.latest(DEMO_RETROFIT_METER)).find((r) => r.quantity === 'electricity' && r.kind === 'interval');
          if (last && last.ts >= end - H) break;
          if (Date.now() - t0 > 600_000) {
            deps.print('Simulator: the history is not all stored after 10 minutes; the M&V analysis runs on what is there.');
            break;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
        deps.print(`Simulator: history stored after ${((Date.now() - t0) / 1000).toFixed(1)} s more.`);
      }
      if (stopped) return;
      // M&V of the hotel's chiller retrofit, stored with its lineage and re-run on schedule.
      const today = new Date(now + 8 * H).toISOString().slice(0, 10);
      const definition = {
        meter: DEMO_RETROFIT_METER,
        temperatureMeter: DEMO_WEATHER_METER,
        model: 'caltrack-daily',
        baseline: { start: timeline.baselineFrom, end: timeline.retrofitFrom },
        reporting: { start: timeline.retrofitFrom, end: today },
        building: { floorAreaM2: chongqingDemoPark(now).find((b) => b.id === 'yz-hotel')!.floorAreaM2, type: 'hotel' },
      };
      try {
        await deps.jobs.define(definition);
        const rec = await deps.jobs.run(definition);
        const r = rec.body.result;
        const band = r.savings.uncertainty.find((u) => u.confidence === 0.9)!;
        const truthHotel = truth.buildings.find((b) => b.building === 'yz-hotel');
        const trueSaved = truthHotel?.months.filter((m) => m.month >= timeline.retrofitFrom.slice(0, 7)).reduce((a, m) => a + m.savingsKwh, 0);
        deps.print(
          `M&V: yz-hotel chiller retrofit since ${timeline.retrofitFrom}: ${r.status.replace(/_/g, ' ')} savings ${Math.round(r.savings.avoided).toLocaleString('en-US')} kWh ` +
            `(${((r.savings.fraction ?? 0) * 100).toFixed(1)} %) ± ${Math.round(band.absolute).toLocaleString('en-US')} kWh at 90 %` +
            (trueSaved !== undefined ? `; true savings (ground truth) ${Math.round(trueSaved).toLocaleString('en-US')} kWh` : '') +
            ` — GET /api/v1/meters/${DEMO_RETROFIT_METER.site}/${DEMO_RETROFIT_METER.building}/${DEMO_RETROFIT_METER.meter}/mv`,
        );
      } catch (err) {
        deps.logger.error({ err }, 'demo M&V analysis failed');
      }
      if (stopped) return;
      if (deps.finance && isFinanceRegistry(deps.registry)) {
        const floorArea = chongqingDemoPark(now).find((b) => b.id === DEMO_RETROFIT_METER.building)!.floorAreaM2;
        await runDemoFinance(deps, deps.finance, deps.registry, timeline, floorArea).catch((err: unknown) => deps.logger.error({ err }, 'demo finance failed'));
      }
      if (stopped) return;
      await deps.afterHistory?.().catch((err: unknown) => deps.logger.error({ err }, 'demo: step after the history failed'));
      if (stopped) return;
      live = createSimulationRun(simDeps, { url: deps.url, mode: 'realtime', portfolio: demoPortfolio(now, 900), fromMs: end, strategy: 'aggregator' });
      await live.start();
    },
    stats() {
      const b = backfill?.stats();
      const l = live?.stats();
      return { readings: (b?.readings.published ?? 0) + (l?.readings.published ?? 0) };
    },
    async close(): Promise<void> {
      stopped = true;
      await backfill?.close();
      await live?.close();
    },
  };
}


