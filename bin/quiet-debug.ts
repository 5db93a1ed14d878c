/**
 * Disabled `debug` loggers that cost nothing to call.
 *
 * mqtt-packet (inside aedes and MQTT.js) calls `debug()` about 20 times per packet it parses or
 * writes, and MQTT.js's client about 10 times per message. `debug` 4.4.3's logger is
 * `function debug(...args) { if (!debug.enabled) return; … }`: every call allocates its rest
 * argument array and runs the `enabled` getter before finding out that nobody listens. In the
 * gateway at 10,000 msg/s that array was 12.6 % of all allocation (sampled heap profile,
 * docs/PERFORMANCE.md, "Where the p99 goes: event-loop stalls"), and allocation is what the
 * young-generation GC pauses in the latency tail are made of.
 *
 * `installQuietDebug()` replaces the `debug` module in Node's module cache, before anything
 * requires it, by a factory that hands out the real logger for a namespace that `DEBUG` enables
 * and an empty function for any other. An empty function with no parameters allocates nothing
 * for its arguments, and V8 inlines it away.
 *
 * Measured (2026-12-03, 2 vCPU AMD EPYC, Node 20.20.2): mqtt-packet parsing a QoS 1 PUBLISH and
 * writing its PUBACK took 3.3–4.4 µs instead of 4.5–6.7 µs (five alternating pairs of runs of
 * 1,000,000 packets, medians 4.01 against 5.59 µs). In the whole gateway at 10,000 msg/s that is
 * inside the noise: `npm run bench -- broker --brokers gateway,baseline,mosquitto --baseline
 * <checkout without it> --qos 1 --rates 10000 --reps 5 --seconds 10 --stalls` gave CPU per message
 * 1.00× and p99 0.88× of the baseline's; a second run of 3 turns 0.94× the CPU. The ingest (MQTT.js
 * logs about ten times per message) with single-reading messages at 10,000/s: 0.93× the CPU per
 * stored reading, four alternating pairs (docs/PERFORMANCE.md, "Disabled debug loggers").
 *
 * The one behaviour given up: `debug.enable()` called at run time no longer turns on loggers
 * created before it while disabled. Namespaces are chosen with the `DEBUG` environment variable
 * at start-up, as `debug` documents, and that works as before (test/bin/quiet-debug.test.ts).
 */
import { createRequire } from 'node:module';

/** The parts of `debug`'s factory used here (the package ships no types). */
export interface DebugFactory {
  (namespace: string): DebugLogger;
  enabled(namespace: string): boolean;
}

export interface DebugLogger {
  (...args: unknown[]): void;
  namespace: string;
  enabled: boolean;
  extend(namespace: string, delimiter?: string): DebugLogger;
}

/** The factory every `require('debug')` gets after `installQuietDebug`: see the file's comment. */
export function quietDebug(createDebug: DebugFactory): DebugFactory {
  const quiet = new Proxy(createDebug, {
    apply(target, thisArg, args: unknown[]) {
      const logger = Reflect.apply(target, thisArg, args) as DebugLogger;
      return logger.enabled ? logger : disabledLogger(quiet, logger);
    },
  });
  return quiet;
}

function disabledLogger(factory: DebugFactory, real: DebugLogger): DebugLogger {
  // No parameters, no rest array: extra arguments are not materialized.
  const off = function debugOff() {} as unknown as DebugLogger;
  Object.defineProperties(off, {
    namespace: { value: real.namespace, enumerable: true },
    enabled: { value: false, enumerable: true },
    extend: { value: (ns: string, delimiter = ':') => factory(real.namespace + delimiter + ns), enumerable: true },
  });
  // What else callers may read (color, useColors, log, diff…) stays on the real logger.
  Object.setPrototypeOf(off, real);
  return off;
}

/**
 * Puts `quietDebug(require('debug'))` into the module cache in place of `debug`'s exports, so that
 * every package resolving to this copy of `debug` (aedes' and MQTT.js's mqtt-packet, MQTT.js)
 * gets it. Call it first thing in a process, before those packages load. Returns false when
 * `debug` cannot be found (nothing to do).
 */
export function installQuietDebug(from: string | URL = import.meta.url): boolean {
  const require = createRequire(from);
  let path: string;
  try {
    path = require.resolve('debug');
  } catch {
    return false;
  }
  const createDebug = require(path) as DebugFactory;
  const entry = require.cache[path];
  if (entry === undefined) return false;
  if (!installed.has(createDebug)) {
    const quiet = quietDebug(createDebug);
    installed.add(quiet);
    entry.exports = quiet;
  }
  return true;
}

const installed = new WeakSet<DebugFactory>();
