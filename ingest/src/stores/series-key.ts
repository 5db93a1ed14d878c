import type { SeriesRef } from '@wattproof/core';

/**
 * A series' five ids joined by NUL, which no id contains (the contract's id pattern): the key the
 * store adapters index series by in memory.
 */
export function seriesKey(r: SeriesRef): string {
  return `${r.site}\u0000${r.building}\u0000${r.meter}\u0000${r.quantity}\u0000${r.kind}`;
}
