/**
 * The V8 arguments the gateway is meant to run with, between `node` and the script:
 * `node --max-semi-space-size=64 --heap-growing-percent=200 bin/wattproof.js gateway`.
 * docker-compose.yml's entrypoint and the benchmarks (bench/lib/brokers.ts) use this list;
 * test/compose checks that the compose file agrees. `wattproof gateway` warns when it runs without
 * them (bin/runtime.ts, `warnMissingNodeArgs`), because Node cannot take them once started: the
 * young generation's size is fixed when the heap is made, and Node refuses `--heap-growing-percent`
 * in NODE_OPTIONS.
 *
 * - `--max-semi-space-size=64`: a 64 MiB young generation. Every QoS 1 message lives until the
 *   ingest acknowledges it; with V8's default (16 MiB semi-spaces) many were promoted and collected
 *   again by full GCs: at 20,000 msg/s 52.6 against 64.1 us of CPU per message (docs/PERFORMANCE.md,
 *   "A larger young generation for the gateway"). About 75 MiB more RSS.
 * - `--heap-growing-percent=200`: the old generation may grow to 3x its live size before a full GC.
 *   With messages of 1,000 readings (about 70 KB) V8 otherwise started incremental marking every
 *   0.3-0.8 s (`--trace-incremental-marking`: "Start (task)" at 37 MB of a 108 MB limit) and the
 *   full GCs were over half the gateway's CPU (`perf`); with it 8-10 full GCs per run instead of
 *   29-33, and the gateway's CPU per message 724-782 against 1,285-1,400 us at 200,000 readings/s.
 *   Single-reading messages: unchanged within noise (docs/PERFORMANCE.md, "Full GCs in the
 *   gateway with large messages").
 */
export const GATEWAY_NODE_ARGS: readonly string[] = ['--max-semi-space-size=64', '--heap-growing-percent=200'];
