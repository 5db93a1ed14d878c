/**
 * The ingest's duplicate cache (ingest/src/recent-readings.ts): entries by series and timestamp,
 * two generations of capacity/2, nothing remembered with a capacity of 0.
 */
import { describe, expect, it } from 'vitest';
import { createRecentReadings, seriesKey } from '../../ingest/src/recent-readings.js';

const S = seriesKey('yz/b01/elec', 'electricity', 'interval');
const T = Date.parse('2026-11-30T00:00:00Z');

describe('recent readings', () => {
  it('remembers by series and timestamp, the newest value winning', () => {
    const recent = createRecentReadings(100);
    expect(recent.get(S, T)).toBeUndefined();
    const first = recent.set(S, T, 1.5);
    expect(first).toEqual({ value: 1.5, durable: false });
    expect(recent.get(S, T)).toBe(first);
    expect(recent.get(S, T + 1)).toBeUndefined();
    expect(recent.get(seriesKey('yz/b01/elec', 'electricity', 'register'), T)).toBeUndefined();
    const second = recent.set(S, T, 2.5);
    expect(recent.get(S, T)).toBe(second);
    // Marking the superseded entry durable says nothing of the newer value.
    first.durable = true;
    expect(recent.get(S, T)!.durable).toBe(false);
    expect(recent.size()).toBe(1);
  });

  it('keeps between capacity/2 and capacity readings: the older generation is dropped whole', () => {
    const recent = createRecentReadings(10);
    for (let i = 0; i < 4; i++) recent.set(S, T + i, i);
    expect(recent.size()).toBe(4);
    recent.set(S, T + 4, 4); // the fifth fills the generation: it becomes the older one
    expect(recent.size()).toBe(0);
    for (let i = 0; i < 5; i++) expect(recent.get(S, T + i)?.value).toBe(i);
    for (let i = 5; i < 10; i++) recent.set(S, T + i, i);
    // Two generations on: the first five are forgotten, the next five are remembered.
    for (let i = 0; i < 5; i++) expect(recent.get(S, T + i)).toBeUndefined();
    for (let i = 5; i < 10; i++) expect(recent.get(S, T + i)?.value).toBe(i);
  });

  it('counts a timestamp once however often it is corrected', () => {
    const recent = createRecentReadings(10);
    for (let v = 0; v < 20; v++) recent.set(S, T, v);
    expect(recent.size()).toBe(1);
    expect(recent.get(S, T)?.value).toBe(19);
  });

  it('remembers nothing with a capacity of 0, and still returns an entry to mark', () => {
    const recent = createRecentReadings(0);
    const e = recent.set(S, T, 1);
    expect(e).toEqual({ value: 1, durable: false });
    expect(recent.get(S, T)).toBeUndefined();
  });
});
