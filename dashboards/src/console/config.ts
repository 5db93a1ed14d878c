/** Options of the web console and its live stream; every duration carries its unit in the name. */

export interface ConsoleConfig {
  /** How often the live stream reads the latest readings of a filter (one poller per filter, shared by its clients), ms. */
  readonly streamPollIntervalMs: number;
  /** How often an idle stream sends a heartbeat comment so proxies keep it open, ms. */
  readonly streamHeartbeatIntervalMs: number;
  /** Most stream clients at once; more get 503 CONSOLE_STREAM_FULL. */
  readonly streamMaxClients: number;
  /** Minify the bundled front end (off only to debug it). */
  readonly minify: boolean;
  /** Serve a source map next to the bundle. */
  readonly sourcemap: boolean;
}

export const DEFAULT_CONSOLE_CONFIG: ConsoleConfig = Object.freeze({
  streamPollIntervalMs: 2_000,
  streamHeartbeatIntervalMs: 15_000,
  streamMaxClients: 100,
  minify: true,
  sourcemap: false,
});
