/** bench/session-queue.ts: a small real run of both in-memory persistences, and its option checks. */
import { describe, expect, it } from 'vitest';
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import { SessionQueueMemoryPersistence } from '@wattproof/gateway';
import { main, measure } from '../../bench/session-queue.js';
import { captureStdout } from '../support/stdout.js';

describe('bench session-queue', () => {
  it('drains a queue of constant depth through both persistences and prints one row per depth', async () => {
    const out = await captureStdout(() => main(['--depths', '300,2000', '--window', '10', '--ms', '30', '--reps', '1']));
    const rows = out.split('\n').filter((l) => /^\|\s+[\d,]+ \|/.test(l));
    expect(rows.map((r) => r.split('|')[1]!.trim())).toEqual(['300', '2,000']);
    for (const r of rows) {
      const [stock, , ours] = r.split('|').slice(2, 5).map((c) => Number(c.trim().replace(/,/g, '')));
      expect(stock).toBeGreaterThan(0);
      expect(ours).toBeGreaterThan(0);
    }
  }, 30_000);

  it('keeps every cycle valid: each acknowledgement removes a queued message (the depth stays the same)', async () => {
    for (const make of [() => new MemoryPersistence(), () => new SessionQueueMemoryPersistence()]) {
      let p: MemoryPersistence | undefined;
      const r = await measure(() => (p = make()), 50, 5, 20);
      expect(r.cycles).toBeGreaterThan(0);
      let left = 0;
      for await (const _ of p!.outgoingStream({ id: 'ingest' })) left++;
      expect(left).toBe(50);
    }
  });

  it('refuses a depth not above the window', async () => {
    await expect(main(['--depths', '10', '--window', '10'])).rejects.toThrow(/--depths/);
  });
});
