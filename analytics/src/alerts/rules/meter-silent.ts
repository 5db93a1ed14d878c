/**
 * meter_silent: a meter whose newest reading is older than ALERT_SILENT_INTERVALS of its usual
 * interval. The newest reading of an interval series counts up to the end of its interval.
 *
 * Evidence: lastReadingAt (end of what the newest reading covers), silentForS, usualIntervalS
 * and where it came from, thresholdS, and each series' newest reading.
 */
import { meterKey } from '@wattproof/core';
import { alertId, durationEn, durationZh, iso, readingEnd, type EvaluationContext } from '../context.js';
import type { AlertFinding, RuleOutcome } from '../types.js';

export async function evaluateMeterSilent(ctx: EvaluationContext): Promise<RuleOutcome> {
  const judged = new Set<string>();
  const findings: AlertFinding[] = [];
  const skipped: Record<string, number> = {};
  const n = ctx.config.ALERT_SILENT_INTERVALS;
  for (const info of ctx.meters) {
    if (info.latest.length === 0) {
      // A meter that never reported is not silent: it was never heard.
      skipped.never_reported = (skipped.never_reported ?? 0) + 1;
      continue;
    }
    const id = alertId('meter_silent', info.ref);
    judged.add(id);
    let newestEnd = Number.NEGATIVE_INFINITY;
    let usual = Number.POSITIVE_INFINITY;
    let usualSource = 'default';
    for (const s of info.series) {
      const u = await ctx.usualInterval(info, s);
      if (u.seconds < usual) {
        usual = u.seconds;
        usualSource = u.source;
      }
    }
    for (const r of info.latest) newestEnd = Math.max(newestEnd, readingEnd(r));
    if (!Number.isFinite(usual)) usual = ctx.config.ALERT_SILENT_DEFAULT_INTERVAL_S;
    const thresholdMs = n * usual * 1000;
    const silentMs = ctx.now - newestEnd;
    if (silentMs <= thresholdMs) continue;
    const key = meterKey(info.ref);
    const critical = silentMs >= ctx.config.ALERT_SILENT_CRITICAL_H * 3_600_000;
    findings.push({
      id,
      rule: 'meter_silent',
      severity: critical ? 'critical' : 'warning',
      ...info.ref,
      title: `Meter ${key} is silent`,
      titleZh: `电表 ${key} 已停止上报`,
      message: `No reading from ${key} for ${durationEn(silentMs)}: its usual interval is ${durationEn(usual * 1000)} and the limit is ${n} intervals (${durationEn(thresholdMs)}). Last reading up to ${iso(newestEnd)}.`,
      messageZh: `${key} 已 ${durationZh(silentMs)} 没有读数：通常间隔 ${durationZh(usual * 1000)}，阈值 ${n} 个间隔（${durationZh(thresholdMs)}）。最后读数截至 ${iso(newestEnd)}。`,
      evidence: {
        lastReadingAt: iso(newestEnd),
        silentForS: Math.round(silentMs / 1000),
        usualIntervalS: usual,
        usualIntervalSource: usualSource,
        intervals: n,
        thresholdS: Math.round(thresholdMs / 1000),
        evaluatedAt: iso(ctx.now),
        series: info.latest.map((r) => ({ quantity: r.quantity, kind: r.kind, lastTs: iso(r.ts), lastReadingAt: iso(readingEnd(r)), ...(r.intervalS ? { intervalS: r.intervalS } : {}) })),
      },
    });
  }
  return { judged, findings, skipped };
}
