import { describe, expect, it } from 'vitest';
import { parseReadingsMessage } from '@wattproof/core';
import { monotonicUs, nextSeq, readingsMessage, readingsPayload, seqOf } from '../../../bench/lib/payload.js';

describe('bench payloads', () => {
  it('are valid readings messages under contract v1 and carry the send time in seq', () => {
    const seq = monotonicUs();
    const now = Date.now();
    const payload = Buffer.from(readingsPayload(seq, now, 1.23456));
    expect(payload.toString()).toBe(JSON.stringify(readingsMessage(seq, now, 1.23456)));
    const parsed = parseReadingsMessage(payload, { nowMs: now, maxFutureMs: 0 });
    expect(parsed.ok).toBe(true);
    if (parsed.ok) {
      expect(parsed.value.seq).toBe(seq);
      expect(parsed.value.readings[0]).toMatchObject({ quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: 900, value: 1.235 });
    }
    expect(seqOf(payload)).toBe(seq);
    expect(seqOf(Buffer.from('{"v":1}'))).toBeNaN();
  });
  it('keep seq strictly increasing per device', () => {
    expect(nextSeq(10, 20)).toBe(20);
    expect(nextSeq(20, 20)).toBe(21);
    expect(nextSeq(25, 20)).toBe(26);
  });
});
