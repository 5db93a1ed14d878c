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
import type { MvJobs } from '@wattproof/analytics';
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


