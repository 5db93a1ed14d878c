/**
 * One socket write per turn of the event loop for a subscriber's connection, instead of one per
 * packet. mqtt-packet corks the socket for each packet it writes and uncorks it on the next tick,
 * and aedes delivers each message in a tick of its own, so a subscriber taking every meter's
 * readings (the ingest) costs the gateway one `writev` system call, and the subscriber one wake-up
 * and one read, per message. Here the uncork mqtt-packet asks for is put off to `setImmediate`,
 * after the turn's I/O callbacks: the deliveries of one turn leave in one write.
 *
 * The socket's writable high-water mark is raised with it. Corked writes count against it, and
 * aedes waits for `'drain'` before it finishes a delivery whose write returned false: with the
 * default 16 KiB a turn of deliveries passes the mark, and every delivery after that waited for
 * the flush (the first attempt at this, docs/PERFORMANCE.md "Tried and reverted: one write per
 * turn to the ingest's socket"). Back-pressure still works, at the raised mark: a subscriber that
 * stops reading fills its kernel buffers, then this many bytes, and aedes waits.
 */
import type { Duplex } from 'node:stream';

export interface WriteCoalescingOptions {
  /** The connection's writable high-water mark while coalescing, in bytes. */
  readonly highWaterMarkBytes: number;
}

const coalesced = new WeakSet<Duplex>();

/** Puts off the uncorks of `conn` to the end of the turn; once per connection (later calls do nothing). */
export function coalesceWrites(conn: Duplex, options: WriteCoalescingOptions): void {
  if (coalesced.has(conn) || typeof conn.uncork !== 'function') return;
  coalesced.add(conn);
  const state = (conn as unknown as { _writableState?: { highWaterMark?: unknown } })._writableState;
  if (state && typeof state.highWaterMark === 'number' && state.highWaterMark < options.highWaterMarkBytes) state.highWaterMark = options.highWaterMarkBytes;
  const uncork = conn.uncork.bind(conn);
  const end = conn.end.bind(conn);
  // Uncorks owed: a Writable flushes when its cork count returns to 0, so each is paid back.
  let owed = 0;
  // Once the connection is ending, uncorks are immediate again: an uncork put off past `end()`
  // left the socket unfinished, its data sent but no FIN and no 'finish' (Node 20.20).
  let ending = false;
  const flush = () => {
    const n = owed;
    owed = 0;
    for (let i = 0; i < n; i++) uncork();
  };
  conn.uncork = () => {
    if (ending) uncork();
    else if (owed++ === 0) setImmediate(flush);
  };
  conn.end = ((...args: Parameters<Duplex['end']>) => {
    ending = true;
    flush();
    return end(...args);
  }) as Duplex['end'];
}
