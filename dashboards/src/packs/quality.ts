/**
 * The data-quality statement of a series over the pack period (DOMAIN.md §2.2, §7): coverage,
 * gaps, the share the analysis imputes, zeros and negatives, and the meter's register events.
 * Computed from the packed readings alone, so a verifier recomputes it from the export.
 */
import { DEFAULT_MAX_TEMPERATURE_GAP_HOURS } from '@wattproof/analytics';
import type { ReadingKind, RegisterEvent } from '@wattproof/core';
import type { SeriesReading } from './merkle.js';
import type { PackQuality } from './types.js';

const HOUR = 3_600_000;

function median(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The statement of one series. `readings` sorted by ts; `from`/`to` the pack period in epoch ms
 * (clipped here to the series window); `events` the registry's register events of the meter.
 */
export function qualityOf(
  series: { readonly id: string; readonly kind: ReadingKind; readonly quantity: string; readonly from: number; readonly to: number },
  readings: readonly SeriesReading[],
  period: { readonly from: number; readonly to: number },
  events: readonly RegisterEvent[] = [],
): PackQuality {
  const from = Math.max(period.from, series.from);
  const to = Math.max(from, Math.min(period.to, series.to));
  const inside = readings.filter((r) => r.ts >= from && r.ts < to);
  const span = to - from;
  const registerEvents = events
    .filter((e) => e.quantity === series.quantity && e.ts >= from && e.ts < to)
    .sort((a, b) => a.ts - b.ts)
    .map((e) => ({ ts: e.ts, type: e.type, previousValue: e.previousValue, value: e.value, ...(e.note !== undefined ? { note: e.note } : {}) }));
  const values = inside.map((r) => r.value).filter((v): v is number => v !== null);
  const base = { series: series.id, from, to, readings: inside.length, zeros: values.filter((v) => v === 0).length, negatives: values.filter((v) => v < 0).length, registerEvents };

  if (series.kind === 'interval') {
    // Missing energy is masked, never imputed (DOMAIN.md §2): the uncovered time is the gap.
    const gaps: Array<{ from: number; to: number }> = [];
    let cursor = from;
    let covered = 0;
    for (const r of inside) {
      const end = Math.min(to, r.ts + (r.intervalS ?? 0) * 1000);
      if (r.ts > cursor) gaps.push({ from: cursor, to: r.ts });
      if (end > Math.max(cursor, r.ts)) covered += end - Math.max(cursor, r.ts);
      cursor = Math.max(cursor, end);
    }
    if (cursor < to) gaps.push({ from: cursor, to });
    const longest = gaps.reduce<{ from: number; to: number } | null>((a, g) => (!a || g.to - g.from > a.to - a.from ? g : a), null);
    return {
      ...base,
      stepS: median(inside.map((r) => r.intervalS ?? 0)),
      coverage: span > 0 ? Math.min(1, covered / span) : 0,
      gaps: gaps.length,
      missingHours: (span - covered) / HOUR,
      longestGap: longest,
      imputedShare: 0,
    };
  }

  // Instant series (outdoor temperature): hours of the period with at least one reading; runs of
  // at most 6 missing hours between two present hours are interpolated by the analysis.
  const hours = Math.ceil(span / HOUR);
  const present = new Array<boolean>(hours).fill(false);
  for (const r of inside) present[Math.floor((r.ts - from) / HOUR)] = true;
  let missing = 0;
  let imputed = 0;
  const runs: Array<{ from: number; to: number }> = [];
  for (let h = 0; h < hours; ) {
    if (present[h]) {
      h++;
      continue;
    }
    let e = h;
    while (e < hours && !present[e]) e++;
    const length = e - h;
    missing += length;
    if (h > 0 && e < hours && length <= DEFAULT_MAX_TEMPERATURE_GAP_HOURS) imputed += length;
    runs.push({ from: from + h * HOUR, to: Math.min(to, from + e * HOUR) });
    h = e;
  }
  const longest = runs.reduce<{ from: number; to: number } | null>((a, g) => (!a || g.to - g.from > a.to - a.from ? g : a), null);
  const spacing = inside.slice(1).map((r, i) => (r.ts - inside[i]!.ts) / 1000);
  return {
    ...base,
    stepS: median(spacing),
    coverage: hours > 0 ? (hours - missing) / hours : 0,
    gaps: runs.length,
    missingHours: missing,
    longestGap: longest,
    imputedShare: hours > 0 ? imputed / hours : 0,
  };
}
