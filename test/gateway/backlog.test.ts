/** Counting the sessions' queues through the persistence, and admission at GATEWAY_MAX_QUEUED_MESSAGES. */
import { describe, expect, it } from 'vitest';
import { createBacklog, type QueuePersistence, type SessionQueue } from '@wattproof/gateway';

/** A persistence that routes every topic to `subs`, queues what it is given and clears the oldest message of a session. */
function fakePersistence(subs: Array<{ clientId: string; topic: string; qos: number }>) {
  const queued = new Map<string, unknown[]>(); // clientId -> packets, oldest first
  const push = (clientId: string, packet: unknown) => queued.set(clientId, [...(queued.get(clientId) ?? []), packet]);
  const p: QueuePersistence = {
    subscriptionsByTopic: async () => subs,
    outgoingEnqueue: async (sub, packet) => push(sub.clientId, packet),
    outgoingEnqueueCombi: async (s, packet) => {
      for (const sub of new Set(s.map((x) => x.clientId))) push(sub, packet);
    },
    outgoingUpdate: async () => undefined,
    outgoingClearMessageId: async (client) => queued.get(client.id)?.shift(),
  };
  return { p, queued };
}

const packet = (bytes: number) => ({ topic: 'wattproof/v1/s/b/m/readings', payload: Buffer.alloc(bytes) });

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
    expect(backlog.largest()).toEqual({ clientId: 'ingest', queued: 3, queuedBytes: 0 });
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
    const a = await backlog.admit('wattproof/v1/s/b/m/readings', 0);
    const b = await backlog.admit('wattproof/v1/s/b/m/readings', 0);
    await p.outgoingEnqueueCombi([INGEST], {});
    if (a.ok) a.release();
    // One queued + one admitted (b): room for one more.
    const c = await backlog.admit('wattproof/v1/s/b/m/readings', 0);
    expect(c.ok).toBe(true);
    expect(await backlog.admit('wattproof/v1/s/b/m/readings', 0)).toEqual({ ok: false, clientId: 'ingest', queued: 1, queuedBytes: 0 });
    await p.outgoingEnqueueCombi([INGEST], {});
    await p.outgoingEnqueueCombi([INGEST], {});
    if (b.ok) b.release();
    if (c.ok) c.release();
    expect(backlog.full()).toEqual([{ clientId: 'ingest', queued: 3, queuedBytes: 0 }]);
    expect(await backlog.admit('wattproof/v1/s/b/m/readings', 0)).toMatchObject({ ok: false, queued: 3 });
    await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 1 });
    expect(backlog.full()).toEqual([]);
    const d = await backlog.admit('wattproof/v1/s/b/m/readings', 0);
    expect(d.ok).toBe(true);
    expect(events).toEqual(['full ingest 3', 'below ingest 2']);
  });

  it('admits a publish no persistent session subscribes to whatever the queues hold', async () => {
    const { p } = fakePersistence([]);
    const backlog = createBacklog(p, { limit: 1, initial: new Map([['ingest', 5]]) });
    expect(backlog.full()).toEqual([{ clientId: 'ingest', queued: 5, queuedBytes: 0 }]);
    expect((await backlog.admit('wattproof/v1/s/b/m/status', 0)).ok).toBe(true);
  });

  it('holds a slot without looking the sessions up while all queues together are below the limit, and counts such slots against every session', async () => {
    const { p } = fakePersistence([INGEST]);
    let lookups = 0;
    const lookup = p.subscriptionsByTopic.bind(p);
    p.subscriptionsByTopic = (topic) => (lookups++, lookup(topic));
    const backlog = createBacklog(p, { limit: 3, initial: new Map([['ops', 1]]) });
    const release = (a: Awaited<ReturnType<typeof backlog.admit>>) => (a.ok ? a.release() : undefined);
    // 1 queued (ops) + 0 held < 3, then 1 + 1 < 3: admitted at once (no promise), no lookup.
    const a = backlog.admit('t', 0);
    const b = backlog.admit('t', 0);
    expect([a, b]).toMatchObject([{ ok: true }, { ok: true }]);
    expect(lookups).toBe(0);
    // 1 + 2 = 3: looked up. ingest: 0 queued + 2 held for any session < 3.
    const c = await backlog.admit('t', 0);
    expect(c.ok).toBe(true);
    // ingest: 0 queued + 1 held for it + 2 held for any session = 3.
    expect(await backlog.admit('t', 0)).toEqual({ ok: false, clientId: 'ingest', queued: 0, queuedBytes: 0 });
    expect(lookups).toBe(2);
    release(await a);
    const e = await backlog.admit('t', 0);
    expect(e.ok).toBe(true);
    expect(lookups).toBe(3);
    for (const x of [await b, c, e]) release(x);
    // All released: 1 + 0 < 3, at once again.
    expect(backlog.admit('t', 0)).toMatchObject({ ok: true });
    expect(lookups).toBe(3);
  });

  it('releases a slot once, however often release() is called', async () => {
    const { p } = fakePersistence([INGEST]);
    const backlog = createBacklog(p, { limit: 2 });
    const a = await backlog.admit('t', 0);
    const b = await backlog.admit('t', 0);
    expect((await backlog.admit('t', 0)).ok).toBe(false);
    if (a.ok) {
      a.release();
      a.release();
    }
    expect((await backlog.admit('t', 0)).ok).toBe(true);
    expect((await backlog.admit('t', 0)).ok).toBe(false);
    expect(b.ok).toBe(true);
  });

  it('counts the payload bytes queued per session, and removes those of the message an acknowledgement removed', async () => {
    const { p } = fakePersistence([INGEST]);
    const backlog = createBacklog(p, { limit: 10, limitBytes: 1000 });
    await p.outgoingEnqueueCombi([INGEST, { clientId: 'ops', topic: '#', qos: 1 }], packet(100));
    await p.outgoingEnqueue({ clientId: 'ingest' }, packet(250));
    expect(backlog.queuedBytes('ingest')).toBe(350);
    expect(backlog.queuedBytes('ops')).toBe(100);
    expect(backlog.totalBytes()).toBe(450);
    expect(backlog.largest()).toEqual({ clientId: 'ingest', queued: 2, queuedBytes: 350 });
    await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 1 });
    expect(backlog.queuedBytes('ingest')).toBe(250);
    expect(backlog.totalBytes()).toBe(350);
  });

  it('refuses a message that would take a session past the byte bound, counting bytes admitted and not yet queued, and admits it again once acknowledgements made room', async () => {
    const { p } = fakePersistence([INGEST]);
    const events: string[] = [];
    const backlog = createBacklog(p, {
      limit: 1000,
      limitBytes: 1000,
      onFull: (s: SessionQueue) => events.push(`full ${s.clientId} ${s.queuedBytes}`),
      onBelow: (s: SessionQueue) => events.push(`below ${s.clientId} ${s.queuedBytes}`),
    });
    const topic = 'wattproof/v1/s/b/m/readings';
    await p.outgoingEnqueueCombi([INGEST], packet(600));
    const a = await backlog.admit(topic, 300);
    expect(a.ok).toBe(true);
    // 600 queued + 300 held + 200 > 1000.
    expect(await backlog.admit(topic, 200)).toEqual({ ok: false, clientId: 'ingest', queued: 1, queuedBytes: 600 });
    const b = await backlog.admit(topic, 100);
    expect(b.ok).toBe(true);
    await p.outgoingEnqueueCombi([INGEST], packet(300));
    await p.outgoingEnqueueCombi([INGEST], packet(100));
    for (const x of [a, b]) if (x.ok) x.release();
    expect(backlog.full()).toEqual([{ clientId: 'ingest', queued: 3, queuedBytes: 1000 }]);
    expect(await backlog.admit(topic, 1)).toMatchObject({ ok: false, queuedBytes: 1000 });
    await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 1 });
    expect(backlog.full()).toEqual([]);
    // 400 queued + 600 = 1000: admitted; one byte more is not.
    expect(await backlog.admit(topic, 601)).toMatchObject({ ok: false });
    expect(await backlog.admit(topic, 600)).toMatchObject({ ok: true });
    expect(events).toEqual(['full ingest 1000', 'below ingest 400']);
  });

  it('admits one message of any size to a session with nothing queued, so that no message is refused forever', async () => {
    const { p } = fakePersistence([INGEST]);
    const backlog = createBacklog(p, { limit: 10, limitBytes: 100 });
    const big = await backlog.admit('t', 5000);
    expect(big.ok).toBe(true);
    expect((await backlog.admit('t', 1)).ok).toBe(false);
    if (big.ok) big.release();
    expect((await backlog.admit('t', 5000)).ok).toBe(true);
  });

  it('starts from the stored sizes found at open, and a session emptied by acknowledgements holds zero bytes again', async () => {
    const { p, queued } = fakePersistence([INGEST]);
    // Two messages on disk, 300 payload bytes each, 700 bytes as stored.
    queued.set('ingest', [packet(300), packet(300)]);
    const backlog = createBacklog(p, { limit: 10, limitBytes: 1000, initial: new Map([['ingest', 2]]), initialBytes: new Map([['ingest', 700]]) });
    expect(backlog.totalBytes()).toBe(700);
    expect((await backlog.admit('t', 400)).ok).toBe(false);
    await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 1 });
    expect(backlog.queuedBytes('ingest')).toBe(400);
    await p.outgoingClearMessageId({ id: 'ingest' }, { messageId: 2 });
    expect(backlog.queued('ingest')).toBe(0);
    expect(backlog.queuedBytes('ingest')).toBe(0);
    expect(backlog.totalBytes()).toBe(0);
  });
});
