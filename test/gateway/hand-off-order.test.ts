/**
 * `HandOff.inOrder` and `HandOff.take` (gateway/src/hand-off.ts) on their own: callbacks in arrival
 * order per client, at once when nothing of that client is waiting, and a refusal one turn of the
 * event loop late.
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

  it('calls places taken for later outcomes back in the order they were taken, whatever order they settle in', () => {
    const h = handOff();
    const client = {} as Client;
    const calls: string[] = [];
    const first = h.take(client, (e) => calls.push(`1 ${e}`));
    const second = h.take(client, (e) => calls.push(`2 ${e}`));
    h.inOrder(client, null, (e) => calls.push(`3 ${e}`));
    const fourth = h.take(client, (e) => calls.push(`4 ${e}`));
    second.settle(null);
    fourth.settle(null);
    expect(calls).toEqual([]);
    first.settle(null);
    expect(calls).toEqual(['1 null', '2 null', '3 null', '4 null']);
    // The line is empty again: a known outcome is called back at once.
    h.inOrder(client, null, (e) => calls.push(`5 ${e}`));
    expect(calls.at(-1)).toBe('5 null');
  });

  it('takes the first outcome of a place and ignores a second settle', () => {
    const h = handOff();
    const client = {} as Client;
    const calls: string[] = [];
    const place = h.take(client, (e) => calls.push(`1 ${e}`));
    place.settle(null);
    place.settle(new Error('late'));
    expect(calls).toEqual(['1 null']);
  });

  it('keeps places of one client from waiting on another client', () => {
    const h = handOff();
    const one = {} as Client;
    const other = {} as Client;
    const calls: string[] = [];
    const pending = h.take(one, (e) => calls.push(`one ${e}`));
    const settled = h.take(other, (e) => calls.push(`other ${e}`));
    settled.settle(null);
    expect(calls).toEqual(['other null']);
    pending.settle(null);
    expect(calls).toEqual(['other null', 'one null']);
  });

  it('calls a refused place back a turn of the event loop late, and the places behind it after it', async () => {
    const h = handOff();
    const client = {} as Client;
    const calls: string[] = [];
    const refused = h.take(client, (e) => calls.push(`1 ${e?.message ?? null}`));
    const next = h.take(client, (e) => calls.push(`2 ${e?.message ?? null}`));
    next.settle(null);
    refused.settle(new Error('store failed'));
    h.inOrder(client, null, (e) => calls.push(`3 ${e?.message ?? null}`));
    expect(calls).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['1 store failed', '2 null', '3 null']);
  });

  it('calls back in order when a callback settles a later place of the same client on its stack', () => {
    const h = handOff();
    const client = {} as Client;
    const calls: string[] = [];
    const later: { settle(error: Error | null): void }[] = [];
    const first = h.take(client, () => {
      calls.push('1');
      // What aedes does after a PUBACK: reads the next PUBLISH, whose hand-off may complete at once.
      const third = h.take(client, () => calls.push('3'));
      later.push(third);
      third.settle(null);
    });
    const second = h.take(client, () => calls.push('2'));
    second.settle(null);
    first.settle(null);
    expect(calls).toEqual(['1', '2', '3']);
    expect(later).toHaveLength(1);
  });
});
