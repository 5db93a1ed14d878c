/**
 * `HandOff.inOrder` (gateway/src/hand-off.ts) on its own: callbacks in arrival order per client,
 * at once when nothing of that client is waiting, and a refusal one turn of the event loop late.
 */
import type { Aedes, Client } from 'aedes';
import { describe, expect, it } from 'vitest';
import { createHandOff } from '@wattproof/gateway';

function handOff() {
  const broker = { publish: (_packet: unknown, _client: unknown, done: () => void) => done() };
  return createHandOff(broker as unknown as Aedes, { maxInFlight: 10 });
}

function deferred() {
  let resolve!: (error: Error | null) => void;
  const promise = new Promise<Error | null>((r) => (resolve = r));
  return { promise, resolve };
}

describe('HandOff.inOrder', () => {
  it('calls back at once when the outcome is known and nothing of the client waits', () => {
    const h = handOff();
    const client = {} as Client;
    const calls: string[] = [];
    h.inOrder(client, null, (e) => calls.push(`a ${e}`));
    h.inOrder(client, null, (e) => calls.push(`b ${e}`));
    expect(calls).toEqual(['a null', 'b null']);
  });

  it('keeps a known outcome behind a pending one of the same client, not of another client, and is immediate again once all are called back', async () => {
    const h = handOff();
    const one = {} as Client;
    const other = {} as Client;
    const calls: string[] = [];
    const first = deferred();
    h.inOrder(one, first.promise, (e) => calls.push(`1 ${e}`));
    h.inOrder(one, null, (e) => calls.push(`2 ${e}`));
    h.inOrder(other, null, (e) => calls.push(`other ${e}`));
    expect(calls).toEqual(['other null']);
    first.resolve(null);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['other null', '1 null', '2 null']);
    h.inOrder(one, null, (e) => calls.push(`3 ${e}`));
    expect(calls).toEqual(['other null', '1 null', '2 null', '3 null']);
  });

  it('calls a refusal back a turn of the event loop after the outcomes before it, and what follows after it', async () => {
    const h = handOff();
    const client = {} as Client;
    const calls: string[] = [];
    const refused = new Error('refused');
    h.inOrder(client, Promise.resolve(null), (e) => calls.push(`1 ${e?.message ?? null}`));
    h.inOrder(client, refused, (e) => calls.push(`2 ${e?.message ?? null}`));
    h.inOrder(client, null, (e) => calls.push(`3 ${e?.message ?? null}`));
    await Promise.resolve().then(() => undefined);
    await new Promise((r) => process.nextTick(r));
    expect(calls).toEqual(['1 null']);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['1 null', '2 refused', '3 null']);
  });
});
