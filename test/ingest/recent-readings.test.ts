/**
 * The ingest's duplicate cache (ingest/src/recent-readings.ts): entries by series and timestamp
 * in typed-array hash tables, two generations of capacity/2 entries, handles that never name
 * another reading once their generation is dropped, nothing remembered with a capacity of 0.
 */
import { describe, expect, it } from 'vitest';
import { createRecentReadings, NO_ENTRY, seriesKey } from '../../ingest/src/recent-readings.js';

const KEY = seriesKey('yz/b01/elec', 'electricity', 'interval');
const T = Date.parse('2026-11-30T00:00:00Z');

/** A linear congruential generator: the same sequence on every run. */
function lcg(seed: number): (n: number) => number {
  return (n) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
}

/** The cache's two generations, counted in entries, over Maps: what `find` should answer. */
function generationsModel(capacity: number) {
  let newer = new Map<string, number>();
  let older = new Map<string, number>();
  let count = 0;
  return {
    get: (k: string) => newer.get(k) ?? older.get(k),
    remember(k: string, value: number) {
      newer.set(k, value);
      if (++count >= capacity / 2) {
        older = newer;
        newer = new Map();
        count = 0;
      }
    },
  };
}

describe('recent readings', () => {
  it('remembers by series and timestamp, the newest value winning', () => {
    const recent = createRecentReadings(100);
    const S = recent.seriesId(KEY);
    expect(recent.seriesId(KEY)).toBe(S);
    const R = recent.seriesId(seriesKey('yz/b01/elec', 'electricity', 'register'));
    expect(R).not.toBe(S);
    expect(recent.find(S, T)).toBe(NO_ENTRY);
    const first = recent.remember(S, T, 1.5);
    expect(recent.find(S, T)).toBe(first);
    expect(recent.value(first)).toBe(1.5);
    expect(recent.isDurable(first)).toBe(false);
    expect(recent.find(S, T + 1)).toBe(NO_ENTRY);
    expect(recent.find(R, T)).toBe(NO_ENTRY);
    const second = recent.remember(S, T, 2.5);
    expect(second).not.toBe(first);
    expect(recent.find(S, T)).toBe(second);
    // Marking the superseded entry durable says nothing of the newer value.
    recent.markDurable(first);
    expect(recent.isDurable(first)).toBe(true);
    expect(recent.isDurable(recent.find(S, T))).toBe(false);
    recent.markDurable(second);
    expect(recent.isDurable(recent.find(S, T))).toBe(true);
    // A correction is an entry of its own (its write is pending on its own).
    expect(recent.size()).toBe(2);
  });

  it('keeps between capacity/2 and capacity entries: the older generation is dropped whole', () => {
    const recent = createRecentReadings(10);
    const S = recent.seriesId(KEY);
    const handles = [];
    for (let i = 0; i < 4; i++) handles.push(recent.remember(S, T + i, i));
    expect(recent.size()).toBe(4);
    handles.push(recent.remember(S, T + 4, 4)); // the fifth fills the generation: it becomes the older one
    expect(recent.size()).toBe(0);
    for (let i = 0; i < 5; i++) expect(recent.value(recent.find(S, T + i))).toBe(i);
    // A handle into the older generation still works.
    recent.markDurable(handles[2]!);
    expect(recent.isDurable(recent.find(S, T + 2))).toBe(true);
    for (let i = 5; i < 10; i++) recent.remember(S, T + i, i);
    // Two generations on: the first five are forgotten, the next five are remembered.
    for (let i = 0; i < 5; i++) expect(recent.find(S, T + i)).toBe(NO_ENTRY);
    for (let i = 5; i < 10; i++) expect(recent.value(recent.find(S, T + i))).toBe(i);
    // A forgotten handle is never durable, and marking it touches nothing the arrays now hold.
    expect(recent.isDurable(handles[0]!)).toBe(false);
    for (const h of handles) recent.markDurable(h);
    for (let i = 5; i < 10; i++) expect(recent.isDurable(recent.find(S, T + i))).toBe(false);
  });

  it('a timestamp corrected again and again keeps its newest value through turnovers', () => {
    const recent = createRecentReadings(10);
    const S = recent.seriesId(KEY);
    for (let v = 0; v < 23; v++) recent.remember(S, T, v);
    expect(recent.value(recent.find(S, T))).toBe(22);
  });

  it('tells apart series and timestamps that differ only in the high or low word of the time', () => {
    const recent = createRecentReadings(1_000);
    const a = recent.seriesId('a|electricity|interval');
    const b = recent.seriesId('b|electricity|interval');
    const times = [0, 1, 2 ** 32, 2 ** 32 + 1, T, T + 2 ** 32, -1, -900_000, 0.5];
    times.forEach((ts, i) => {
      recent.remember(a, ts, i);
      recent.remember(b, ts, -i);
    });
    times.forEach((ts, i) => {
      expect(recent.value(recent.find(a, ts))).toBe(i);
      expect(recent.value(recent.find(b, ts))).toBe(-i);
    });
    expect(recent.find(a, 3)).toBe(NO_ENTRY);
  });

  it('matches a Map-based model over a long random sequence with turnovers', () => {
    const capacity = 200;
    const recent = createRecentReadings(capacity);
    const model = generationsModel(capacity);
    const rand = lcg(12345);
    for (let step = 0; step < 20_000; step++) {
      const meter = `m${rand(7)}|electricity|interval`;
      const ts = T + rand(60) * 900_000;
      const value = rand(3);
      const id = recent.seriesId(meter);
      const k = `${meter}@${ts}`;
      const expected = model.get(k);
      const found = recent.find(id, ts);
      expect(found === NO_ENTRY ? undefined : recent.value(found)).toBe(expected);
      if (expected !== value) {
        recent.remember(id, ts, value);
        model.remember(k, value);
      }
    }
  });

  it('matches the model when readings mostly come in time order, several series resolved at once', () => {
    const capacity = 300;
    const recent = createRecentReadings(capacity);
    const model = generationsModel(capacity);
    const rand = lcg(777);
    const meters = Array.from({ length: 5 }, (_, i) => `m${i}|electricity|interval`);
    const next = meters.map(() => 0);
    for (let step = 0; step < 20_000; step++) {
      // Resolve two series, then use either number: `find` and `remember` of a series other than
      // the one resolved last.
      const a = rand(meters.length);
      const b = rand(meters.length);
      const ids = [recent.seriesId(meters[a]!), recent.seriesId(meters[b]!)];
      const pick = rand(2);
      const m = pick === 0 ? a : b;
      // Mostly the series' next interval; sometimes a repeat or a late reading.
      const r = rand(10);
      const slot = r < 7 ? next[m]!++ : r < 9 ? Math.max(0, next[m]! - 1) : rand(next[m]! + 1);
      const ts = T + slot * 900_000;
      const value = rand(3);
      const k = `${meters[m]}@${ts}`;
      const expected = model.get(k);
      const found = recent.find(ids[pick]!, ts);
      expect(found === NO_ENTRY ? undefined : recent.value(found)).toBe(expected);
      if (expected !== value) {
        recent.remember(ids[pick]!, ts, value);
        model.remember(k, value);
      }
    }
  });

  it('remembers nothing with a capacity of 0', () => {
    const recent = createRecentReadings(0);
    const S = recent.seriesId(KEY);
    const e = recent.remember(S, T, 1);
    expect(e).toBe(NO_ENTRY);
    recent.markDurable(e);
    expect(recent.find(S, T)).toBe(NO_ENTRY);
  });

  it('drops series not seen in either live generation, never reusing their numbers', () => {
    const recent = createRecentReadings(10);
    const first = recent.seriesId('s0');
    recent.remember(first, T, 1);
    // 200,000 other series, each with a reading: many turnovers, and the map is pruned.
    for (let i = 1; i <= 200_000; i++) recent.remember(recent.seriesId(`s${i}`), T, i);
    expect(recent.seriesCount()).toBeLessThanOrEqual(2 * 65_536);
    // s0 was dropped: it comes back under a new number, and its old entries (long forgotten
    // here) could never be found under another series.
    const again = recent.seriesId('s0');
    expect(again).not.toBe(first);
    expect(recent.find(again, T)).toBe(NO_ENTRY);
    // Series of the live generations keep their numbers and their readings.
    const last = recent.seriesId('s200000');
    expect(recent.value(recent.find(last, T))).toBe(200_000);
  });

  it('keeps the numbers of series still in use however many there are', () => {
    const recent = createRecentReadings(1_000_000);
    const keys = Array.from({ length: 150_000 }, (_, i) => `m${i}|electricity|interval`);
    const ids = keys.map((k) => recent.seriesId(k));
    keys.forEach((k, i) => recent.remember(ids[i]!, T, i));
    // More live series than the map's first pruning point: nothing is dropped, nothing renumbered.
    expect(keys.filter((k, i) => recent.seriesId(k) !== ids[i])).toEqual([]);
    expect(recent.seriesCount()).toBe(150_000);
    expect(keys.filter((k, i) => recent.value(recent.find(ids[i]!, T)) !== i)).toEqual([]);
  });
});
