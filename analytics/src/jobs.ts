/**
 * M&V on live data: analyses defined per meter, run from the stores on demand or on a
 * schedule, persisted as append-only records with their lineage. The exact inputs of every
 * result are kept too (content-addressed by their digest), so any past result can be re-derived
 * to the same numbers even after later corrections or backfills of the readings.
 */
import { z } from 'zod';
import { meterKey, silentLogger, type Logger, type ReadingStore, type RegistryStore, type StoredRecord } from '@wattproof/core';
import { analyze, distanceKm, MODEL_KINDS, type AnalysisInput, type AnalysisResult } from './analyze.js';
import { selectEmissionFactor } from './carbon.js';
import { canonicalJson, digestOf } from './lineage.js';
import { createZone } from './prep/local-time.js';
import { referenceData } from './reference.js';
import { chongqingTypicalYear } from './typical-year.js';
import type { NonRoutineAdjustment } from './savings.js';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a local date YYYY-MM-DD');
const meterRef = z.object({ site: id, building: id, meter: id });

/** What to analyse: a meter, its weather, the periods and the method. */
export const analysisDefinitionSchema = z.object({
  meter: meterRef,
  fuel: z.enum(['electricity', 'gas']).default('electricity'),
  /** The outdoor-temperature series (a meter publishing `outdoor_temperature`, °C). */
  temperatureMeter: meterRef,
  model: z.enum(MODEL_KINDS).default('caltrack-daily'),
  baseline: z.object({ start: date, end: date }),
  reporting: z.object({ start: date, end: date }),
  timeZone: z.string().default('Asia/Shanghai'),
  building: z.object({ floorAreaM2: z.number().positive().optional(), type: z.string().max(64).optional() }).optional(),
  emission: z.object({ region: z.string().default('CN'), basis: z.enum(['location', 'market']).default('location') }).default({ region: 'CN', basis: 'location' }),
  override: z.object({ reason: z.string().min(3).max(500), by: z.string().min(1).max(100) }).optional(),
  /** Normalized savings on the bundled Chongqing typical year (daily model). */
  normalize: z.boolean().default(true),
});
export type AnalysisDefinition = z.output<typeof analysisDefinitionSchema>;

export const adjustmentInputSchema = z.object({
  event: z.string().min(1).max(200),
  start: date,
  end: date,
  method: z.enum(['per_day', 'total_prorated']),
  amount: z.number().finite(),
  evidence: z.string().min(1).max(500),
  approver: z.string().min(1).max(100),
  supersedes: z.string().max(100).optional(),
});
export type AdjustmentInput = z.output<typeof adjustmentInputSchema>;

export const RECORD_KINDS = { result: 'mv.result', inputs: 'mv.inputs', adjustment: 'mv.adjustment', definition: 'mv.definition' } as const;

/** What an `mv.result` record holds. */
export interface ResultRecordBody {
  readonly definition: AnalysisDefinition;
  /** When the job ran (epoch ms); the data were read as of then. */
  readonly ranAtMs: number;
  /** Id of the `mv.inputs` record with the exact series used. */
  readonly inputsRecord: string;
  readonly result: AnalysisResult;
}

/** What an `mv.inputs` record holds: the exact series a result was computed from. */
export interface MvInputsBody {
  readonly digest: string;
  readonly usage: Array<[number, number, number | null]>;
  readonly temperatures: Array<[number, number | null]>;
  readonly adjustments: NonRoutineAdjustment[];
  readonly weatherStationDistanceKm?: number;
}

export interface MvJobsDeps {
  readonly readings: ReadingStore;
  readonly registry: RegistryStore;
  readonly clock?: () => number;
  readonly logger?: Logger;
}

const DAY = 86_400_000;

/** The readings an analysis reads, epoch ms [from, to): baseline and reporting periods with a day either side. */
export function analysisWindow(def: AnalysisDefinition): { from: number; to: number } {
  const zone = createZone(def.timeZone);
  return {
    from: Math.min(zone.startOfDay(def.baseline.start), zone.startOfDay(def.reporting.start)) - DAY,
    to: Math.max(zone.startOfDay(def.baseline.end), zone.startOfDay(def.reporting.end)) + DAY,
  };
}

/**
 * The analysis input of a definition and its recorded series: what `run` and `rederive` analyse,
 * and what a report-pack verifier re-runs from exported data.
 */
export function analysisInputOf(def: AnalysisDefinition, inputs: MvInputsBody): AnalysisInput {
  const ref = referenceData();
  const asOf = def.reporting.end;
  const factor = def.fuel === 'electricity' ? selectEmissionFactor(ref.factors.data, { region: def.emission.region, basis: def.emission.basis, asOf }) : undefined;
  return {
    usage: inputs.usage.map(([start, end, value]) => ({ start, end, value })),
    temperatures: inputs.temperatures.map(([time, value]) => ({ time, value })),
    baseline: def.baseline,
    reporting: def.reporting,
    model: def.model,
    fuel: def.fuel,
    temperatureUnit: 'C',
    timeZone: def.timeZone,
    inputDigests: { series: inputs.digest },
    ...(def.override ? { override: def.override } : {}),
    adjustments: inputs.adjustments,
    ...(factor ? { emissionFactor: factor } : {}),
    ...(def.building ? { building: def.building } : {}),
    ...(inputs.weatherStationDistanceKm !== undefined ? { weatherStationDistanceKm: inputs.weatherStationDistanceKm } : {}),
    ...(def.normalize && def.model === 'caltrack-daily' ? { typicalYear: chongqingTypicalYear('C') } : {}),
  };
}

export function createMvJobs(deps: MvJobsDeps) {
  const clock = deps.clock ?? Date.now;
  const logger = deps.logger ?? silentLogger;

  async function adjustmentsFor(key: string): Promise<NonRoutineAdjustment[]> {
    const records = await deps.registry.listRecords({ kind: RECORD_KINDS.adjustment, key, limit: 1000 });
    return records.map((r) => ({ ...(r.body as NonRoutineAdjustment), id: r.id })).reverse();
  }

  return {
    /** Runs one analysis on the stores' current data and persists result and inputs. */
    async run(definitionInput: unknown): Promise<StoredRecord & { body: ResultRecordBody }> {
      const def = analysisDefinitionSchema.parse(definitionInput);
      const { from, to } = analysisWindow(def);
      const quantity = def.fuel;
      const usageRows = await deps.readings.query({ ...def.meter, quantity, kind: 'interval', from, to, limit: 2_000_000 });
      const tempRows = await deps.readings.query({ ...def.temperatureMeter, quantity: 'outdoor_temperature', kind: 'instant', from, to, limit: 2_000_000 });
      const key = meterKey(def.meter);
      const adjustments = await adjustmentsFor(key);
      // Site coordinates, when the registry has them, give the weather station's distance.
      const sites = await deps.registry.listSites();
      const here = sites.find((s) => s.id === def.meter.site);
      const station = sites.find((s) => s.id === def.temperatureMeter.site);
      const weatherStationDistanceKm =
        here?.latitude !== undefined && here.longitude !== undefined && station?.latitude !== undefined && station.longitude !== undefined
          ? distanceKm({ latitude: here.latitude, longitude: here.longitude }, { latitude: station.latitude, longitude: station.longitude })
          : undefined;
      const series = {
        usage: usageRows.map((r) => [r.ts, r.ts + (r.intervalS ?? 0) * 1000, r.value] as [number, number, number | null]),
        temperatures: tempRows.map((r) => [r.ts, r.value] as [number, number | null]),
        adjustments,
        ...(weatherStationDistanceKm !== undefined ? { weatherStationDistanceKm } : {}),
      };
      const digest = digestOf(series);
      const existing = await deps.registry.listRecords({ kind: RECORD_KINDS.inputs, key: `${key}#${digest}`, limit: 1 });
      const inputsRecord = existing[0] ?? (await deps.registry.appendRecords([{ kind: RECORD_KINDS.inputs, key: `${key}#${digest}`, recordedAtMs: clock(), body: { digest, ...series } }]))[0]!;
      const result = analyze(analysisInputOf(def, { digest, ...series }));
      const body: ResultRecordBody = { definition: def, ranAtMs: clock(), inputsRecord: inputsRecord.id, result };
      const [stored] = await deps.registry.appendRecords([{ kind: RECORD_KINDS.result, key, recordedAtMs: body.ranAtMs, body }]);
      logger.info({ meter: key, status: result.status, avoided: result.savings.avoided, digest: result.lineage.digest }, 'M&V analysis stored');
      return stored as StoredRecord & { body: ResultRecordBody };
    },

    /** Re-runs a stored result on its stored inputs; `identical` when every number matches. */
    async rederive(resultId: string): Promise<{ identical: boolean; original: AnalysisResult; rederived: AnalysisResult } | undefined> {
      const record = await deps.registry.getRecord(resultId);
      if (!record || record.kind !== RECORD_KINDS.result) return undefined;
      const body = record.body as ResultRecordBody;
      const inputs = await deps.registry.getRecord(body.inputsRecord);
      if (!inputs) throw new Error(`inputs record ${body.inputsRecord} of result ${resultId} is missing`);
      const rederived = analyze(analysisInputOf(body.definition, inputs.body as MvInputsBody));
      return { identical: canonicalJson(rederived) === canonicalJson(body.result), original: body.result, rederived };
    },

    async latest(meter: { site: string; building: string; meter: string }): Promise<(StoredRecord & { body: ResultRecordBody }) | undefined> {
      const [r] = await deps.registry.listRecords({ kind: RECORD_KINDS.result, key: meterKey(meter), limit: 1 });
      return r as (StoredRecord & { body: ResultRecordBody }) | undefined;
    },

    async list(meter: { site: string; building: string; meter: string }, limit = 50): Promise<StoredRecord[]> {
      return deps.registry.listRecords({ kind: RECORD_KINDS.result, key: meterKey(meter), limit });
    },

    /** Appends a non-routine adjustment to the meter's register (never overwritten; `supersedes` corrects). */
    async addAdjustment(meter: { site: string; building: string; meter: string }, input: unknown, timeZone = 'Asia/Shanghai'): Promise<StoredRecord> {
      const a = adjustmentInputSchema.parse(input);
      const zone = createZone(timeZone);
      const body: Omit<NonRoutineAdjustment, 'id'> = {
        event: a.event,
        start: zone.startOfDay(a.start),
        end: zone.startOfDay(a.end),
        method: a.method,
        amount: a.amount,
        evidence: a.evidence,
        approver: a.approver,
        recordedAtMs: clock(),
        ...(a.supersedes ? { supersedes: a.supersedes } : {}),
      };
      const [r] = await deps.registry.appendRecords([{ kind: RECORD_KINDS.adjustment, key: meterKey(meter), recordedAtMs: body.recordedAtMs, body }]);
      return r!;
    },

    adjustments: (meter: { site: string; building: string; meter: string }) => adjustmentsFor(meterKey(meter)),

    /** Stores a definition the scheduler runs; returns its record. */
    async define(definitionInput: unknown): Promise<StoredRecord> {
      const def = analysisDefinitionSchema.parse(definitionInput);
      const [r] = await deps.registry.appendRecords([{ kind: RECORD_KINDS.definition, key: meterKey(def.meter), recordedAtMs: clock(), body: def }]);
      return r!;
    },

    /** Runs the newest definition of every meter once (the scheduler calls this). */
    async runScheduled(): Promise<number> {
      const defs = await deps.registry.listRecords({ kind: RECORD_KINDS.definition, limit: 1000 });
      const newest = new Map<string, StoredRecord>();
      for (const d of defs) if (!newest.has(d.key)) newest.set(d.key, d);
      let n = 0;
      for (const d of newest.values()) {
        try {
          await this.run(d.body);
          n++;
        } catch (err) {
          logger.error({ err, meter: d.key }, 'scheduled M&V analysis failed');
        }
      }
      return n;
    },
  };
}

export type MvJobs = ReturnType<typeof createMvJobs>;
