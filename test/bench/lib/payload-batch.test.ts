import { describe, expect, it } from 'vitest';
import { CONTRACT_LIMITS, parseReadingsMessage } from '@wattproof/core';
import { readingsBatchMessage, readingsBatchPayload, seqOf } from '../../../bench/lib/payload.js';

describe('batched bench payloads (bench/lib/payload.ts)', () => {
  it('are the JSON of readingsBatchMessage and valid under contract v1 up to its 1,000 readings', () => {
    const now = Date.now();
    // 1,000 readings 15 min apart span 10.4 days: start 12 days back so none is in the future.
    const first = now - 12 * 86_400_000;
    for (const n of [1, 10, CONTRACT_LIMITS.maxReadingsPerMessage]) {
      const text = readingsBatchPayload(42, first, 900, n, 1.23456);
      expect(text).toBe(JSON.stringify(readingsBatchMessage(42, first, 900, n, 1.23456)));
      const parsed = parseReadingsMessage(Buffer.from(text), { nowMs: now, maxFutureMs: 0 });
      expect(parsed.ok).toBe(true);
      if (parsed.ok) expect(parsed.value.readings).toHaveLength(n);
      expect(Buffer.byteLength(text)).toBeLessThan(CONTRACT_LIMITS.maxPayloadBytes);
      expect(seqOf(Buffer.from(text))).toBe(42);
    }
  });
  it('give every reading of a message its own timestamp, intervalS apart', () => {
    const m = readingsBatchMessage(1, 1_000_000_000_000, 15, 4, 2);
    expect(m.readings.map((r) => r.ts)).toEqual([1_000_000_000_000, 1_000_000_015_000, 1_000_000_030_000, 1_000_000_045_000]);
    expect(m.readings.every((r) => r.intervalS === 15 && r.kind === 'interval')).toBe(true);
  });
});
