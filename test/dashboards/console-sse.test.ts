/**
 * The console's event-stream reader over fetch (dashboards/console/src/sse.ts), which replaced
 * EventSource so the live stream can carry the API key in a header: against a real loopback HTTP
 * server that writes the stream in awkward chunks — a CRLF split between two chunks, comments,
 * multi-line data, a `retry` field — then ends (the reader reconnects with the header again) and
 * finally refuses with 401 (the reader stops for good).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openEventStream, type SseEvent } from '../../dashboards/console/src/sse.js';

let server: Server;
let base = '';
const seen: Array<{ url: string; auth: string | undefined; accept: string | undefined }> = [];
let refuse = false;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ url: req.url ?? '', auth: req.headers.authorization, accept: req.headers.accept });
    if (refuse) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"AUTH_REVOKED","message":"revoked"}}');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const chunks = [': a comment first\r\nretry: 20\r\n\r\n', 'event: snapshot\r\ndata: {"n":1}\r', '\n\r\n', 'data: line one\ndata: line two\n\n', 'event: readings\ndata: {"n":', '2}\n\n'];
    let i = 0;
    const next = () => {
      if (i < chunks.length) {
        res.write(chunks[i++]);
        setTimeout(next, 10);
      } else res.end();
    };
    next();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

it('parses events split across chunks, sends its headers on every (re)connect, and stops on 401', async () => {
  const events: SseEvent[] = [];
  const errors: Array<{ fatal: boolean }> = [];
  let opened = 0;
  const stream = openEventStream(`${base}/api/v1/stream?site=yz`, { authorization: 'Bearer wp_test' }, {
    onOpen: () => opened++,
    onEvent: (e) => {
      events.push(e);
      // After the first connection's events, the server starts refusing.
      if (events.length === 3) refuse = true;
    },
    onError: (_err, fatal) => errors.push({ fatal }),
  });
  try {
    await expect.poll(() => errors.some((e) => e.fatal), { timeout: 5_000 }).toBe(true);
  } finally {
    stream.close();
  }
  expect(events).toEqual([
    { event: 'snapshot', data: '{"n":1}' },
    { event: 'message', data: 'line one\nline two' },
    { event: 'readings', data: '{"n":2}' },
  ]);
  // The end of the stream was not fatal: it reconnected (after the server's retry of 20 ms), then the 401 was.
  expect(opened).toBe(1);
  expect(errors).toEqual([{ fatal: false }, { fatal: true }]);
  expect(seen.length).toBe(2);
  for (const r of seen) expect(r).toEqual({ url: '/api/v1/stream?site=yz', auth: 'Bearer wp_test', accept: 'text/event-stream' });
  // Nothing after a 401: no further attempt.
  await new Promise((r) => setTimeout(r, 100));
  expect(seen.length).toBe(2);
});
