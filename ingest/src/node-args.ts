/**
 * The V8 arguments the ingest is meant to run with, between `node` and the script:
 * `node --no-allocation-site-pretenuring --max-semi-space-size=64 bin/wattproof.js ingest`.
 * docker-compose.yml's entrypoint and the benchmarks (bench/lib/node-process.ts) use this list;
 * test/compose checks that the compose file agrees. `wattproof ingest` warns when it runs without
 * them (bin/runtime.ts, `warnMissingNodeArgs`): Node 20 refuses the first in NODE_OPTIONS.
 *
 * `--no-allocation-site-pretenuring`, V8's allocation-site pretenuring off: a batch's readings
 * live until the batch is written (up to 200 ms and the request), long enough for V8 to allocate
 * them straight into the old generation, where they die and cost full collections. Without it, at
 * 10 readings per message and 40,000 readings/s, the ingest used 8.17 instead of 9.85 µs of CPU
 * per stored reading (medians of 7 alternating runs each; at 1,000 readings per message 4.57
 * against 4.89, 3 each) and its scavenges took 40 instead of 780 ms in one pair of runs
 * (docs/PERFORMANCE.md, "The ingest without pretenuring"). The cost: a year's backfill (messages
 * of about 1,000 readings held for seconds under back-pressure) took 7.57 and 8.20 µs per reading
 * against 6.61 with V8's default (one run without), still well under its 10-minute target; the
 * live stream was chosen over the occasional backfill.
 *
 * `--max-semi-space-size=64`, a 64 MiB young generation (V8's default here: 16 MiB semi-spaces).
 * With single-reading messages every message's objects (MQTT.js's packet, the parsed reading, the
 * held acknowledgement) live until their batch is durable, up to the 200 ms flush and the write:
 * at 10,000 messages a second the default young generation was scavenged 5-7 times a second,
 * 11-15 ms each on average (up to 26 ms, `--trace-gc`), promoting what was still waiting. With it the
 * ingest used 31.2 against 34.1 µs of CPU per stored reading (medians of 7 and 9 alternating runs,
 * lower in 6 of 7 pairs), for 50-65 MiB more RSS; at 10 and 1,000 readings per message no change
 * beyond noise (2 pairs each), 30-90 MiB more RSS (docs/PERFORMANCE.md, "A 64 MiB young generation
 * for the ingest, after all").
 */
export const INGEST_NODE_ARGS: readonly string[] = ['--no-allocation-site-pretenuring', '--max-semi-space-size=64'];
