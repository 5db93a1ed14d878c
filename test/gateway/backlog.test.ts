/** Counting the sessions' queues through the persistence, and admission at GATEWAY_MAX_QUEUED_MESSAGES. */
import { describe, expect, it } from 'vitest';
import { createBacklog, type QueuePersistence, type SessionQueue } from '@wattproof/gateway';

/** A persistence that routes every topic to `subs` and clears what it was given to clear. */
function fakePersistence(subs: Array<{ clientId: string; topic: string; qos: number }>) {
  const queued = new Map<string, number>(); // clientId -> messages
  const p: QueuePersistence = {
    subscriptionsByTopic: async () => subs,
    outgoingEnqueue: async (sub) => void queued.set(sub.clientId, (queued.get(sub.clientId) ?? 0) + 1),
    outgoingEnqueueCombi: async (s) => {
      for (const sub of new Set(s.map((x) => x.clientId))) queued.set(sub, (queued.get(sub) ?? 0) + 1);
    },
    outgoingClearMessageId: async (client) => {
      const n = queued.get(client.id) ?? 0;
      if (n === 0) return undefined;
      queued.set(client.id, n - 1);
      return { messageId: 1 };
    },
  };
  return { p, queued };
}

const INGEST = { clientId: 'ingest', topic: 'wattproof/v1/+/+/+/readings', qos: 1 };

describe('backlog', () => {
  it('counts enqueues per session and the acknowledgements that removed a queued message', async () => {
    const { p } = fakePersistence([INGEST]);
    const backlog = createBacklog(p, { limit: 10, initial: new Map([['ingest', 2]]) });
    await p.outgoingEnqueueCombi([INGEST, { clientId: 'ops', topic: '#', qos: 1 }], {});
    await p.outgoingEnqueue({ clientId: 'ops' }, {});
    expect(backlog.queued('ingest')).toBe(3);
    expect(backlog.queued('ops')).toBe(2);
    expect(backlog.total()).toBe(5);
    expect(backlog.largest()).toEqual({ clientId: 'ingest', queued: 3 });
    await p.outgoingClearMessageId({ id: 'ops' }, { messageId: 1 });
    await p.outgoingClearMessageId({ id: 'ops' }, { messageId: 2 });
    // Nothing left to remove: an acknowledgement of an unknown message id counts nothing.
    await p.outgoingClearMessageId({ id: 'ops' }, { messageId: 3 });
    expect(backlog.queued('ops')).toBe(0);
    expect(backlog.total()).toBe(3);
  });

  it('counts a message once per session even when two of its filters match', async () => {
    const { p } = fakePersistence([]);
    const backlog = createBacklog(p, { limit: 10 });
    await p.outgoingEnqueueCombi([INGEST, { clientId: 'ingest', topic: 'wattproof/v1/#', qos: 1 }], {});
    expect(backlog.queued('ingest')).toBe(1);
  });

  it('refuses at the limit, counting admitted publishes not yet queued, and admits again below it', async () => {
    const { p } = fakePersistence([INGEST]);
    const events: string[] = [];
    const backlog = createBacklog(p, {
      limit: 3,
      onFull: (s: SessionQueue) => events.push(`full ${s.clientId} ${s.queued}`),
      onBelow: (s: SessionQueue) => events.push(`below ${s.clientId} ${s.queued}`),
    });
    const a = await backlog.admit('wattproof/v1/s/b/m/readings');
    const b = await backlog.admit('wattproof/v1/s/b/m/readings');
    await p.outgoingEnqueueCombi([INGEST], {});
    if (a.ok) a.release();
    // One queued + one admitted (b): room for one more.
    const c = await backlog.admit('wattproof/v1/s/b/m/readings');
    expect(c.ok).toBe(true);
    expect(await backlog.admit('wattproof/v1/s/b/m/readings')).toEqual({ ok: false, clientId: 'ingest', queued: 1 });
    await p.outgoingEnqueueCombi([INGEST], {});
    await p.outgoingEnqueueCombi([INGEST], {});
    if (b.ok) b.release();
    if (c.ok) c.release();
    expect(backlog.full()).toEqual([{ clientId: 'ingest', queued: 3 }]);
    expect(await backlog.admit('wattproof/v1/s/b/m/readings')).toMatchObject({ ok: false, queued: 3 });
    await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 1 });
    expect(backlog.full()).toEqual([]);
    const d = await backlog.admit('wattproof/v1/s/b/m/readings');
    expect(d.ok).toBe(true);
    expect(events).toEqual(['full ingest 3', 'below ingest 2']);
  });

  it('admits a publish no persistent session subscribes to whatever the queues hold', async () => {
    const { p } = fakePersistence([]);
    const backlog = createBacklog(p, { limit: 1, initial: new Map([['ingest', 5]]) });
    expect(backlog.full()).toEqual([{ clientId: 'ingest', queued: 5 }]);
    expect((await backlog.admit('wattproof/v1/s/b/m/status')).ok).toBe(true);
  });

  it('holds a slot without looking the sessions up while all queues together are below the limit, and counts such slots against every session', async () => {
    const { p } = fakePersistence([INGEST]);
    let lookups = 0;
    const lookup = p.subscriptionsByTopic.bind(p);
    p.subscriptionsByTopic = (topic) => (lookups++, lookup(topic));
    const backlog = createBacklog(p, { limit: 3, initial: new Map([['ops', 1]]) });
    const release = (a: Awaited<ReturnType<typeof backlog.admit>>) => (a.ok ? a.release() : undefined);
    // 1 queued (ops) + 0 held < 3, then 1 + 1 < 3: admitted at once (no promise), no lookup.
    const a = backlog.admit('t');
    const b = backlog.admit('t');
    expect([a, b]).toMatchObject([{ ok: true }, { ok: true }]);
    expect(lookups).toBe(0);
    // 1 + 2 = 3: looked up. ingest: 0 queued + 2 held for any session < 3.
    const c = await backlog.admit('t');
    expect(c.ok).toBe(true);
    // ingest: 0 queued + 1 held for it + 2 held for any session = 3.
    expect(await backlog.admit('t')).toEqual({ ok: false, clientId: 'ingest', queued: 0 });
    expect(lookups).toBe(2);
    release(await a);
    const e = await backlog.admit('t');
    expect(e.ok).toBe(true);
    expect(lookups).toBe(3);
    for (const x of [await b, c, e]) release(x);
    // All released: 1 + 0 < 3, at once again.
    expect(backlog.admit('t')).toMatchObject({ ok: true });
    expect(lookups).toBe(3);
  });

  it('releases a slot once, however often release() is called', async () => {
    const { p } = fakePersistence([INGEST]);
    const backlog = createBacklog(p, { limit: 2 });
    const a = await backlog.admit('t');
    const b = await backlog.admit('t');
    expect((await backlog.admit('t')).ok).toBe(false);
    if (a.ok) {
      a.release();
      a.release();
    }
    expect((await backlog.admit('t')).ok).toBe(true);
    expect((await backlog.admit('t')).ok).toBe(false);
    expect(b.ok).toBe(true);
  });
});
