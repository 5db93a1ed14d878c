/**
 * low_coverage: a meter that delivered less than ALERT_COVERAGE_MIN_FRACTION of its expected
 * intervals in the current local month so far — or in the last complete month while fewer than
 * ALERT_COVERAGE_MIN_ELAPSED_H hours of this month have passed. The period starts no earlier than
 * the meter's first reading (a meter installed mid-month is judged from then) and ends at the last
 * interval boundary before now, less one interval still in flight.
 *
 * Expected = whole usual intervals in the period; received = intervals covered by interval
 * readings (Σ interval_s / usual interval), or the count of readings for instant and register
 * series.
 *
 * Evidence: the period (month, from, to), series, usual interval, expected and received
 * intervals, fraction and the minimum.
 */
import { meterKey } from '@wattproof/core';
import { createZone, formatDate } from '../../prep/local-time.js';
import { alertId, iso, pct, primarySeries, round, type EvaluationContext } from '../context.js';
import type { AlertFinding, RuleOutcome } from '../types.js';

/** Below this share the alert is critical. */
export const COVERAGE_CRITICAL_FRACTION = 0.5;

/** First reading of each series: it never moves later, so it is looked up once per process. */
const firstSeen = new WeakMap<object, Map<string, number>>();

export async function evaluateLowCoverage(ctx: EvaluationContext): Promise<RuleOutcome> {
  const judged = new Set<string>();
  const findings: AlertFinding[] = [];
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  let seen = firstSeen.get(ctx.readings);
  if (!seen) {
    seen = new Map();
    firstSeen.set(ctx.readings, seen);
  }
  const min = ctx.config.ALERT_COVERAGE_MIN_FRACTION;
  for (const info of ctx.meters) {
    const s = primarySeries(info);
    if (!s) {
      skip('never_reported');
      continue;
    }
    const tz = ctx.timeZone(info.ref.site);
    const zone = createZone(tz);
    const p = zone.parts(ctx.now);
    const monthStart = zone.startOfDay(formatDate(p.year, p.month, 1));
    const soFar = ctx.now - monthStart >= ctx.config.ALERT_COVERAGE_MIN_ELAPSED_H * 3_600_000;
    const prev = p.month === 1 ? { y: p.year - 1, m: 12 } : { y: p.year, m: p.month - 1 };
    const periodStart = soFar ? monthStart : zone.startOfDay(formatDate(prev.y, prev.m, 1));
    const usual = await ctx.usualInterval(info, s);
    const stepMs = usual.seconds * 1000;
    const seriesKey = `${meterKey(info.ref)}|${s.quantity}|${s.kind}`;
    let first = seen.get(seriesKey);
    if (first === undefined) {
      const [row] = await ctx.readings.query({ ...info.ref, quantity: s.quantity, kind: s.kind, from: 0, to: ctx.now + 1, limit: 1 });
      first = row?.ts;
      // Once the first reading is before a period, a later backfill cannot change any later period.
      if (first !== undefined && first <= periodStart) seen.set(seriesKey, first);
    }
    if (first === undefined) {
      skip('never_reported');
      continue;
    }
    const from = Math.max(periodStart, first);
    // The newest interval may still be on its way: count up to one interval before the last boundary.
    const to = soFar ? Math.floor(ctx.now / stepMs) * stepMs - stepMs : monthStart;
    const expected = Math.floor((to - from) / stepMs);
    if (expected < 1) {
      skip('period_too_short');
      continue;
    }
    const rows = await ctx.readings.aggregate({ ...info.ref, quantity: s.quantity, kind: s.kind, from, to, bucket: '1mo', tz });
    const count = rows.reduce((a, r) => a + r.count, 0);
    const coveredS = rows.reduce((a, r) => a + (r.coveredS ?? 0), 0);
    const received = s.kind === 'interval' ? coveredS / usual.seconds : count;
    const fraction = Math.min(1, received / expected);
    const id = alertId('low_coverage', info.ref);
    judged.add(id);
    if (fraction >= min) continue;
    const key = meterKey(info.ref);
    const month = zone.date(periodStart).slice(0, 7);
    const period = soFar ? `${month} so far` : month;
    const periodZh = soFar ? `${month} 至今` : month;
    findings.push({
      id,
      rule: 'low_coverage',
      severity: fraction < COVERAGE_CRITICAL_FRACTION ? 'critical' : 'warning',
      ...info.ref,
      title: `Low data coverage at ${key}`,
      titleZh: `${key} 数据完整率低`,
      message: `${key} delivered ${Math.round(received)} of ${expected} expected intervals (${pct(fraction)}) in ${period}; the minimum is ${pct(min)}.`,
      messageZh: `${key} 在 ${periodZh} 应收 ${expected} 个间隔，实收 ${Math.round(received)} 个（${pct(fraction)}），低于最低要求 ${pct(min)}。`,
      evidence: {
        period: soFar ? 'month_to_date' : 'last_complete_month',
        month,
        from: iso(from),
        to: iso(to),
        quantity: s.quantity,
        kind: s.kind,
        usualIntervalS: usual.seconds,
        usualIntervalSource: usual.source,
        expectedIntervals: expected,
        receivedIntervals: round(received, 2),
        readings: count,
        fraction: round(fraction, 4),
        minFraction: min,
      },
    });
  }
  return { judged, findings, skipped };
}
