/**
 * above_baseline: a meter's use above the upper band of its baseline model — the model of its
 * latest M&V result (`mv.result`) — for ALERT_ABOVE_BASELINE_HOURS consecutive hours (hourly
 * TOWT model) or ALERT_ABOVE_BASELINE_DAYS consecutive local days (daily or billing model, both
 * usage-per-day models), ending at the newest complete period with data.
 *
 * The band is `prediction + t · RMSE`, t the one-sided Student-t quantile at
 * ALERT_ABOVE_BASELINE_CONFIDENCE with the baseline fit's n − p degrees of freedom and RMSE the
 * baseline fit's root-mean-square error per hour (hourly) or per day (daily/billing). It leaves
 * out the parameters' own uncertainty, so it is slightly narrow (DOMAIN.md §2.3 notes the same
 * of hourly uncertainty); the evidence names the band so it can be judged.
 *
 * A result whose baseline is disqualified without a recorded override is not used.
 *
 * Evidence: the model (result id, kind, type, status, RMSE, t, confidence), and each period of
 * the run with its start, end, actual, predicted and upper band (kWh or the meter's unit), and
 * the excess over the prediction.
 */
import { meterKey } from '@wattproof/core';
import { CALTRACK_HOURLY_METHOD_VERSION, predictCaltrackHourly, type CaltrackHourlyModel } from '../../caltrack/hourly.js';
import { perDayLoads } from '../../caltrack/daily.js';
import { RECORD_KINDS, type ResultRecordBody } from '../../jobs.js';
import { dailyRows, type UsageInterval } from '../../prep/daily.js';
import { hourlyRows } from '../../prep/hourly.js';
import { createZone, HOUR_MS, nextDate } from '../../prep/local-time.js';
import { hourlyTemperatures, type TemperatureReading } from '../../prep/temperature.js';
import { tQuantile } from '../../stats/t-quantile.js';
import { alertId, iso, num, round, type EvaluationContext, type MeterInfo } from '../context.js';
import type { AlertFinding, RuleOutcome } from '../types.js';

/** One compared period (hour or local day). */
interface Period {
  readonly start: number;
  readonly end: number;
  readonly actual: number | null;
  readonly predicted: number | null;
  readonly upper: number | null;
}

const DAY_MS = 86_400_000;
/** Local days examined for daily models beyond the required run (evidence and context). */
const EXTRA_DAYS = 5;

export async function evaluateAboveBaseline(ctx: EvaluationContext): Promise<RuleOutcome> {
  const judged = new Set<string>();
  const findings: AlertFinding[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  for (const info of ctx.meters) {
    if (!info.series.some((s) => s.kind === 'interval' && (s.quantity === 'electricity' || s.quantity === 'gas'))) continue;
    const [record] = await ctx.registry.listRecords({ kind: RECORD_KINDS.result, key: meterKey(info.ref), limit: 1 });
    if (!record) {
      skip('no_mv_result');
      continue;
    }
    const body = record.body as ResultRecordBody;
    const result = body.result;
    if (result.disqualifications.length > 0 && !result.override) {
      skip('baseline_disqualified');
      continue;
    }
    const rmse = result.model.fit.rmse;
    const dof = result.model.fit.n - result.model.fit.p;
    if (!(Number.isFinite(rmse) && rmse >= 0 && dof > 0)) {
      skip('no_fit_statistics');
      continue;
    }
    const t = tQuantile(ctx.config.ALERT_ABOVE_BASELINE_CONFIDENCE, dof);
    const id = alertId('above_baseline', info.ref);
    const hourly = result.model.kind === 'caltrack-hourly';
    const periods = hourly ? await hourlyPeriods(ctx, info, body, t * rmse) : await dailyPeriods(ctx, info, body, t * rmse);
    judged.add(id);
    const required = hourly ? ctx.config.ALERT_ABOVE_BASELINE_HOURS : ctx.config.ALERT_ABOVE_BASELINE_DAYS;
    const run = trailingRun(periods);
    if (run.length < required) continue;
    const unit = info.series.find((s) => s.kind === 'interval' && s.quantity === body.definition.fuel)?.unit ?? 'kWh';
    const excess = run.reduce((a, p) => a + (p.actual! - p.predicted!), 0);
    const key = meterKey(info.ref);
    const what = hourly ? 'hours' : 'days';
    const whatZh = hourly ? '小时' : '天';
    const conf = `${num(ctx.config.ALERT_ABOVE_BASELINE_CONFIDENCE * 100, 1)} %`;
    findings.push({
      id,
      rule: 'above_baseline',
      // Twice the required run: a lasting change (a schedule left on, a failed control), not a blip.
      severity: run.length >= 2 * required ? 'critical' : 'warning',
      ...info.ref,
      title: `Consumption above baseline at ${key}`,
      titleZh: `${key} 能耗高于基准线`,
      message: `Use at ${key} was above the baseline model's ${conf} upper band for ${run.length} consecutive ${what} (${iso(run[0]!.start)} to ${iso(run[run.length - 1]!.end)}), ${num(excess, 1)} ${unit} more than predicted.`,
      messageZh: `${key} 连续 ${run.length} ${whatZh}（${iso(run[0]!.start)} 至 ${iso(run[run.length - 1]!.end)}）用量高于基准模型 ${conf} 置信上限，比预测多 ${num(excess, 1)} ${unit}。`,
      evidence: {
        model: {
          resultId: record.id,
          ranAt: iso(body.ranAtMs),
          kind: result.model.kind,
          type: result.model.type,
          status: result.status,
          baseline: body.definition.baseline,
          temperatureMeter: meterKey(body.definition.temperatureMeter),
        },
        granularity: hourly ? 'hour' : 'day',
        unit,
        confidence: ctx.config.ALERT_ABOVE_BASELINE_CONFIDENCE,
        t: round(t, 4),
        rmse: round(rmse, 4),
        band: 'upper = predicted + t * rmse (one-sided, baseline fit RMSE per period)',
        consecutive: run.length,
        required,
        from: iso(run[0]!.start),
        to: iso(run[run.length - 1]!.end),
        excess: round(excess, 3),
        periods: run.map((p) => ({ start: iso(p.start), end: iso(p.end), actual: round(p.actual!, 3), predicted: round(p.predicted!, 3), upper: round(p.upper!, 3) })),
      },
    });
  }
  return { judged, findings, skipped };
}

/** The newest periods with a comparison that all exceed the band, oldest first; a period without one ends the run. */
function trailingRun(periods: readonly Period[]): Period[] {
  let i = periods.length - 1;
  while (i >= 0 && (periods[i]!.actual === null || periods[i]!.upper === null)) i--;
  const run: Period[] = [];
  for (; i >= 0; i--) {
    const p = periods[i]!;
    if (p.actual === null || p.upper === null || !(p.actual > p.upper)) break;
    run.unshift(p);
  }
  return run;
}

async function series(ctx: EvaluationContext, info: MeterInfo, body: ResultRecordBody, from: number, to: number): Promise<{ usage: UsageInterval[]; temps: TemperatureReading[] }> {
  const def = body.definition;
  const [usageRows, tempRows] = await Promise.all([
    ctx.readings.query({ ...info.ref, quantity: def.fuel, kind: 'interval', from, to, limit: 1_000_000 }),
    // Hours before the window let the ≤ 6 h interpolation fill its first hours (CalTRACK 2.2.4.1).
    ctx.readings.query({ ...def.temperatureMeter, quantity: 'outdoor_temperature', kind: 'instant', from: from - 7 * HOUR_MS, to, limit: 1_000_000 }),
  ]);
  const toModelUnit = (c: number) => (body.result.model.temperatureUnit === 'F' ? c * 1.8 + 32 : c);
  return {
    usage: usageRows.map((r) => ({ start: r.ts, end: r.ts + (r.intervalS ?? 0) * 1000, value: r.value })),
    temps: tempRows.map((r) => ({ time: r.ts, value: toModelUnit(r.value) })),
  };
}

async function hourlyPeriods(ctx: EvaluationContext, info: MeterInfo, body: ResultRecordBody, halfBand: number): Promise<Period[]> {
  const to = Math.floor(ctx.now / HOUR_MS) * HOUR_MS;
  const from = to - ctx.config.ALERT_ABOVE_BASELINE_LOOKBACK_H * HOUR_MS;
  const { usage, temps } = await series(ctx, info, body, from, to);
  if (temps.length === 0) return [];
  const rows = hourlyRows(usage, hourlyTemperatures(temps, { start: from - 7 * HOUR_MS, end: to }), { timeZone: body.definition.timeZone, fuel: body.definition.fuel, start: from, end: to });
  const predicted = predictCaltrackHourly(hourlyModel(body), rows, { ignoreDisqualification: true });
  return rows.map((r, i) => {
    const p = predicted[i] ?? null;
    return { start: r.start, end: r.start + HOUR_MS, actual: r.usage, predicted: p, upper: p === null ? null : p + halfBand };
  });
}

async function dailyPeriods(ctx: EvaluationContext, info: MeterInfo, body: ResultRecordBody, halfBandPerDay: number): Promise<Period[]> {
  const def = body.definition;
  const zone = createZone(def.timeZone);
  const today = zone.date(ctx.now);
  let first = today;
  // Step back whole days (a 23- or 25-hour day moves the instant, not the date).
  for (let k = 0; k < ctx.config.ALERT_ABOVE_BASELINE_DAYS + EXTRA_DAYS; k++) first = zone.date(zone.startOfDay(first) - DAY_MS / 2);
  let last = first;
  for (let d = first; d < today; d = nextDate(d)) last = d;
  const from = zone.startOfDay(first);
  const to = zone.startOfDay(today);
  const { usage, temps } = await series(ctx, info, body, from, to);
  if (temps.length === 0) return [];
  const rows = dailyRows(usage, hourlyTemperatures(temps, { start: from - 7 * HOUR_MS, end: to }), { timeZone: def.timeZone, fuel: def.fuel, firstDate: first, lastDate: last });
  const model = body.result.model as unknown as { coefficients: { intercept: number; heating: number; cooling: number }; heatingBalancePoint: number | null; coolingBalancePoint: number | null };
  return rows.map((r) => {
    const scale = r.hours / 24;
    // CalTRACK 3.6.1: the day's prediction from its mean temperature, for the day's real length.
    const predicted = r.temperature === null ? null : perDayLoads(model, r.temperature).total * scale;
    return { start: r.start, end: r.end, actual: r.usage === null ? null : r.usage * scale, predicted, upper: predicted === null ? null : predicted + halfBandPerDay * scale };
  });
}

/**
 * The CalTRACK hourly model as `analyze` stores it (segments in `coefficients`, occupancy and bins
 * in `detail`), put back into the shape `predictCaltrackHourly` takes; predict validates it.
 */
function hourlyModel(body: ResultRecordBody): CaltrackHourlyModel {
  const m = body.result.model;
  const detail = m.detail as { occupancy: CaltrackHourlyModel['occupancy']; bins: CaltrackHourlyModel['bins'] };
  return {
    method: 'caltrack-hourly',
    methodVersion: body.result.lineage.method.version ?? CALTRACK_HOURLY_METHOD_VERSION,
    type: 'towt',
    temperatureUnit: m.temperatureUnit,
    // Settings are not used to predict (the kept knots are in `bins`); the stored result does not keep them.
    settings: { knots: [], minHoursPerBin: 0, occupancyThreshold: 0, occupancyHeatingBalancePoint: 0, occupancyCoolingBalancePoint: 0, neighbourWeight: 0, minMonthCoverage: 0 },
    occupancy: detail.occupancy,
    bins: detail.bins,
    segments: (m.coefficients as { segments: CaltrackHourlyModel['segments'] }).segments,
    fit: m.fit,
    warnings: [],
    disqualifications: [],
  };
}
