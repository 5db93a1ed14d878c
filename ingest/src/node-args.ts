/**
 * The V8 arguments the ingest is meant to run with, between `node` and the script:
 * `node --no-allocation-site-pretenuring bin/wattproof.js ingest`. docker-compose.yml's entrypoint
 * and the benchmarks (bench/lib/node-process.ts) use this list; test/compose checks that the
 * compose file agrees. `wattproof ingest` warns when it runs without them (bin/runtime.ts,
 * `warnMissingNodeArgs`): Node 20 refuses the flag in NODE_OPTIONS.
 *
 * V8's allocation-site pretenuring off: a batch's readings live until the batch is written (up to
 * 200 ms and the request), long enough for V8 to allocate them straight into the old generation,
 * where they die and cost full collections. Without it, at 10 readings per message and 40,000
 * readings/s, the ingest used 8.17 instead of 9.85 µs of CPU per stored reading (medians of 7
 * alternating runs each; at 1,000 readings per message 4.57 against 4.89, 3 each) and its
 * scavenges took 40 instead of 780 ms in one pair of runs (docs/PERFORMANCE.md, "The ingest without
 * pretenuring"). The cost: a year's backfill (messages of about 1,000 readings held for seconds
 * under back-pressure) took 7.57 and 8.20 µs per reading against 6.61 with V8's default (one run
 * without), still well under its 10-minute target; the live stream was chosen over the occasional
 * backfill.
 */
export const INGEST_NODE_ARGS: readonly string[] = ['--no-allocation-site-pretenuring'];
