/**
 * A server-sent-events reader over fetch, for streams that need an `Authorization` header
 * (EventSource cannot send one, and a key in the URL would end up in logs). It parses the
 * event-stream format (WHATWG HTML §9.2.6: `event`, `data`, `retry` fields, `:` comments, a blank
 * line ends an event) and reconnects after the server's `retry` time when the connection drops —
 * but not after 401, 403 or 404, which another attempt would only repeat.
 */

export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

export interface SseHandlers {
  onOpen(): void;
  onEvent(e: SseEvent): void;
  /** `fatal`: the stream is over (refused); otherwise a reconnect follows. */
  onError(error: unknown, fatal: boolean): void;
}

/** Opens the stream and keeps it open until `close()`. */
export function openEventStream(url: string, headers: Record<string, string>, on: SseHandlers, retryMs = 3000): { close(): void } {
  const ctl = new AbortController();
  let retry = retryMs;
  const dispatch = (block: string) => {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
    }
    if (data.length) on.onEvent({ event, data: data.join('\n') });
  };
  const connect = async (): Promise<void> => {
    const res = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' }, signal: ctl.signal });
    if (!res.ok || !res.body) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
    on.onOpen();
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let pendingCr = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      // Lines end in LF, CRLF or CR; a CRLF may be split between two chunks.
      const chunk: string = pendingCr && value.startsWith('\n') ? value.slice(1) : value;
      pendingCr = chunk.endsWith('\r');
      buffer += chunk.replace(/\r\n?/g, '\n');
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  };
  void (async () => {
    while (!ctl.signal.aborted) {
      try {
        await connect();
        if (!ctl.signal.aborted) on.onError(new Error('the stream ended'), false);
      } catch (err) {
        if (ctl.signal.aborted) return;
        const status = (err as { status?: number }).status;
        const fatal = status === 401 || status === 403 || status === 404;
        on.onError(err, fatal);
        if (fatal) return;
      }
      await new Promise((r) => setTimeout(r, retry));
    }
  })();
  return { close: () => ctl.abort() };
}
