/**
 * dead_letter_surge: per site (the `<site>` of `wattproof/v1/<site>/…` topics; other topics under
 * `_other`), more dead letters in the last ALERT_DEAD_LETTER_WINDOW_S than
 * ALERT_DEAD_LETTER_MAX_COUNT, or at least ALERT_DEAD_LETTER_MIN_COUNT and more than
 * ALERT_DEAD_LETTER_SURGE_FACTOR times the rate of the trailing ALERT_DEAD_LETTER_BASELINE_S
 * scaled to the window.
 *
 * Dead letters are read newest first (ids sort by arrival) until the baseline start; at most
 * MAX_DEAD_LETTERS_SCANNED are read per evaluation (then `truncated` and the counts are lower
 * bounds).
 *
 * Evidence: window and baseline ranges, count in the window, baseline count and its expected
 * count per window, the limit that was exceeded, the top codes and sources.
 */
import { ID_PATTERN, type DeadLetter } from '@wattproof/core';
import { alertId, durationEn, durationZh, iso, num, round, type EvaluationContext } from '../context.js';
import type { AlertFinding, RuleOutcome } from '../types.js';

/** Dead letters read at most per evaluation. */
export const MAX_DEAD_LETTERS_SCANNED = 50_000;
/** Site key of dead letters whose topic names no site. */
export const OTHER_TOPICS_SITE = '_other';

const PAGE = 1000;

export function deadLetterSite(topic: string): string {
  const parts = topic.split('/');
  return parts[0] === 'wattproof' && parts[1] === 'v1' && parts[2] !== undefined && ID_PATTERN.test(parts[2]) ? parts[2] : OTHER_TOPICS_SITE;
}

export async function evaluateDeadLetterSurge(ctx: EvaluationContext): Promise<RuleOutcome> {
  const c = ctx.config;
  const windowMs = c.ALERT_DEAD_LETTER_WINDOW_S * 1000;
  const windowStart = ctx.now - windowMs;
  const baselineStart = windowStart - c.ALERT_DEAD_LETTER_BASELINE_S * 1000;
  const inWindow = new Map<string, DeadLetter[]>();
  const inBaseline = new Map<string, number>();
  let scanned = 0;
  let truncated = false;
  let before: string | undefined;
  scan: for (;;) {
    const page = await ctx.registry.listDeadLetters({ limit: PAGE, ...(before ? { before } : {}) });
    for (const d of page) {
      scanned++;
      if (d.receivedAtMs < baselineStart) break scan;
      const site = deadLetterSite(d.topic);
      if (d.receivedAtMs >= windowStart && d.receivedAtMs <= ctx.now) {
        const list = inWindow.get(site);
        if (list) list.push(d);
        else inWindow.set(site, [d]);
      }
      else if (d.receivedAtMs < windowStart) inBaseline.set(site, (inBaseline.get(site) ?? 0) + 1);
    }
    if (page.length < PAGE) break;
    if (scanned >= MAX_DEAD_LETTERS_SCANNED) {
      truncated = true;
      break;
    }
    before = page[page.length - 1]!.id;
  }

  const judged = new Set<string>();
  const findings: AlertFinding[] = [];
  // Every known site is judged (its alert resolves when the surge is over), and any site with dead letters.
  const sites = new Set<string>([...ctx.sites.keys(), ...inWindow.keys(), ...inBaseline.keys()]);
  for (const site of sites) {
    const id = alertId('dead_letter_surge', { site });
    judged.add(id);
    const letters = inWindow.get(site) ?? [];
    const count = letters.length;
    const baselineCount = inBaseline.get(site) ?? 0;
    const expected = (baselineCount * windowMs) / (windowStart - baselineStart);
    const surgeLimit = c.ALERT_DEAD_LETTER_SURGE_FACTOR * expected;
    const overMax = count > c.ALERT_DEAD_LETTER_MAX_COUNT;
    const surge = count >= c.ALERT_DEAD_LETTER_MIN_COUNT && count > surgeLimit;
    if (!overMax && !surge) continue;
    const topCodes = top(letters.map((d) => d.code));
    const sources = top(letters.map((d) => d.source));
    const codesText = topCodes.map((t) => `${t.value} ×${t.count}`).join(', ');
    const win = durationEn(windowMs);
    findings.push({
      id,
      rule: 'dead_letter_surge',
      severity: overMax && surge ? 'critical' : 'warning',
      site,
      title: `Dead-letter surge on site ${site}`,
      titleZh: `站点 ${site} 死信激增`,
      message: `${count} messages for site ${site} were rejected in the last ${win} (baseline ${num(expected, 1)} per ${win}; limit ${overMax ? c.ALERT_DEAD_LETTER_MAX_COUNT : `${c.ALERT_DEAD_LETTER_SURGE_FACTOR} × baseline`}). Top codes: ${codesText}.`,
      messageZh: `站点 ${site} 最近 ${durationZh(windowMs)} 有 ${count} 条消息被拒收（基线每 ${durationZh(windowMs)} ${num(expected, 1)} 条；阈值 ${overMax ? c.ALERT_DEAD_LETTER_MAX_COUNT : `基线的 ${c.ALERT_DEAD_LETTER_SURGE_FACTOR} 倍`}）。主要错误码：${codesText}。`,
      evidence: {
        window: { from: iso(windowStart), to: iso(ctx.now), seconds: c.ALERT_DEAD_LETTER_WINDOW_S },
        baseline: { from: iso(baselineStart), to: iso(windowStart), count: baselineCount, expectedPerWindow: round(expected, 3) },
        count,
        maxCount: c.ALERT_DEAD_LETTER_MAX_COUNT,
        surgeFactor: c.ALERT_DEAD_LETTER_SURGE_FACTOR,
        minCount: c.ALERT_DEAD_LETTER_MIN_COUNT,
        exceeded: [...(overMax ? ['max_count'] : []), ...(surge ? ['surge_factor'] : [])],
        topCodes: topCodes.map((t) => ({ code: t.value, count: t.count })),
        sources: sources.map((t) => ({ source: t.value, count: t.count })),
        newest: letters.slice(0, 5).map((d) => ({ id: d.id, receivedAt: iso(d.receivedAtMs), code: d.code, topic: d.topic })),
        truncated,
      },
    });
  }
  return { judged, findings };
}

function top(values: readonly string[], n = 5): Array<{ value: string; count: number }> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || a.value.localeCompare(b.value)).slice(0, n);
}
