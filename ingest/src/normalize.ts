/**
 * Normalization of validated messages into stored readings:
 * - every value to the canonical unit of its dimension (energy kWh, volume m3, power kW, °C);
 * - cumulative registers kept as received (kind `register`) and turned into interval deltas
 *   between consecutive register readings in time order, so a late register reading splits the
 *   interval it falls in; rollovers (with `rollover`), resets (index went down) and meter
 *   replacements (`meterSerial` changed) break the chain instead of producing negative or huge deltas;
 * - exact duplicates (same series, timestamp and value) detected and counted.
 */
import { meterKey, toCanonical, type MeterRef, type Quantity, type RegisterEvent, type StoredReading, type ValidReading, type ValidReadingsMessage } from '@wattproof/core';

interface RegisterEntry {
  readonly ts: number;
  /** Canonical value of the index. */
  readonly value: number;
  readonly serial?: string;
  /** Canonical rollover value, when the device declared one. */
  readonly rollover?: number;
}

interface SeriesRegister {
  entries: RegisterEntry[];
  /** Entries older than this are not in memory (never loaded or pruned). */
  loadedFrom: number;
  readonly events: Set<string>;
}

export interface NormalizerDeps {
  /** Loads stored register readings (canonical) of one series in [from, to), earliest first. */
  loadRegisters(series: MeterRef & { quantity: Quantity }, from: number, to: number): Promise<Array<{ ts: number; value: number }>>;
  readonly clock: () => number;
}

export interface NormalizerConfig {
  readonly registerLookbackMs: number;
  readonly maxFutureMs: number;
}

export interface NormalizedMessage {
  readonly readings: StoredReading[];
  readonly events: RegisterEvent[];
}

type DeltaResult = { ok: true; value: number; event?: 'rollover' } | { ok: false; event: 'reset' | 'replacement' };

/** The usage between two register readings, or why there is none. */
export function registerDelta(a: RegisterEntry, b: RegisterEntry): DeltaResult {
  if (a.serial !== undefined && b.serial !== undefined && a.serial !== b.serial) return { ok: false, event: 'replacement' };
  // Registers have a finite resolution: drop the float noise of the subtraction (below 1e-9 units).
  const d = Math.round((b.value - a.value) * 1e9) / 1e9;
  if (d >= 0) return { ok: true, value: d };
  const rollover = b.rollover ?? a.rollover;
  if (rollover !== undefined) {
    const wrapped = Math.round((b.value + rollover - a.value) * 1e9) / 1e9;
    // A real wrap uses less than half the register's range; anything else is a reset.
    if (wrapped >= 0 && wrapped < rollover / 2) return { ok: true, value: wrapped, event: 'rollover' };
  }
  return { ok: false, event: 'reset' };
}

/**
 * A reading that is not a register, in canonical units. Object literals with a fixed shape, not
 * `{ ...ref, ...(cond ? { intervalS } : {}) }`: the spreads were 9 µs of self time per reading,
 * 20 % of the ingest's CPU at 1,000 readings per message (bench/ingest.ts --cpu-prof); these
 * take well under 1 µs.
 */
function plainReading(ref: MeterRef, r: ValidReading): StoredReading {
  const c = toCanonical(r.value, r.unit);
  return r.kind === 'interval' && r.intervalS !== undefined
    ? { site: ref.site, building: ref.building, meter: ref.meter, quantity: r.quantity, kind: r.kind, unit: c.unit, ts: r.tsMs, value: c.value, intervalS: r.intervalS }
    : { site: ref.site, building: ref.building, meter: ref.meter, quantity: r.quantity, kind: r.kind, unit: c.unit, ts: r.tsMs, value: c.value };
}

function lowerBound(entries: RegisterEntry[], ts: number): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid]!.ts < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function createNormalizer(deps: NormalizerDeps, config: NormalizerConfig) {
  const registers = new Map<string, SeriesRegister>();

  async function registerFor(ref: MeterRef, quantity: Quantity, ts: number): Promise<SeriesRegister> {
    const key = `${meterKey(ref)}|${quantity}`;
    let reg = registers.get(key);
    if (!reg) {
      const from = ts - config.registerLookbackMs;
      const loaded = await deps.loadRegisters({ ...ref, quantity }, from, deps.clock() + config.maxFutureMs + 1);
      reg = { entries: loaded.map((r) => ({ ts: r.ts, value: r.value })), loadedFrom: from, events: new Set() };
      registers.set(key, reg);
    } else if (ts < reg.loadedFrom) {
      // A reading older than what is in memory: load the stored history around it.
      const from = ts - config.registerLookbackMs;
      const loaded = await deps.loadRegisters({ ...ref, quantity }, from, reg.loadedFrom);
      const known = new Set(reg.entries.map((e) => e.ts));
      reg.entries = [...loaded.filter((r) => !known.has(r.ts)).map((r) => ({ ts: r.ts, value: r.value })), ...reg.entries].sort((x, y) => x.ts - y.ts);
      reg.loadedFrom = from;
    }
    return reg;
  }

  function prune(reg: SeriesRegister): void {
    const newest = reg.entries[reg.entries.length - 1];
    if (!newest) return;
    const cut = newest.ts - config.registerLookbackMs;
    if (reg.entries[0]!.ts >= cut) return;
    const idx = lowerBound(reg.entries, cut);
    // Keep one entry before the cut so the next interval still has its start.
    reg.entries = reg.entries.slice(Math.max(0, idx - 1));
    reg.loadedFrom = Math.max(reg.loadedFrom, reg.entries[0]!.ts);
  }

  return {
    /** Normalizes one validated message of one meter. Deterministic: the same input gives the same output. */
    async normalize(ref: MeterRef, msg: ValidReadingsMessage): Promise<NormalizedMessage> {
      const out: StoredReading[] = [];
      // Derived intervals by series and start: a later computation of the same interval replaces an earlier one.
      const derived = new Map<string, StoredReading>();
      const events: RegisterEvent[] = [];
      for (const r of msg.readings) {
        if (r.kind !== 'register') {
          out.push(plainReading(ref, r));
          continue;
        }
        const c = toCanonical(r.value, r.unit);
        const reg = await registerFor(ref, r.quantity, r.tsMs);
        // Fixed shapes, no spreads, on this path too (see above).
        const entry: { -readonly [K in keyof RegisterEntry]: RegisterEntry[K] } = { ts: r.tsMs, value: c.value };
        if (msg.meterSerial !== undefined) entry.serial = msg.meterSerial;
        if (r.rollover !== undefined) entry.rollover = toCanonical(r.rollover, r.unit).value;
        const idx = lowerBound(reg.entries, r.tsMs);
        const same = reg.entries[idx];
        if (same && same.ts === r.tsMs) reg.entries[idx] = entry;
        else reg.entries.splice(idx, 0, entry);
        out.push({ site: ref.site, building: ref.building, meter: ref.meter, quantity: r.quantity, kind: 'register', unit: c.unit, ts: r.tsMs, value: c.value });
        const prev = idx > 0 ? reg.entries[idx - 1] : undefined;
        const next = reg.entries[idx + 1];
        for (const [a, b] of [[prev, entry], [entry, next]] as const) {
          if (!a || !b) continue;
          const d = registerDelta(a, b);
          if (d.ok) {
            derived.set(`${r.quantity}|${a.ts}`, {
              site: ref.site,
              building: ref.building,
              meter: ref.meter,
              quantity: r.quantity,
              kind: 'interval',
              unit: c.unit,
              ts: a.ts,
              value: d.value,
              intervalS: Math.max(1, Math.round((b.ts - a.ts) / 1000)),
            });
          }
          const type = d.event;
          if (type && !reg.events.has(`${type}@${b.ts}`)) {
            reg.events.add(`${type}@${b.ts}`);
            events.push({ ...ref, quantity: r.quantity, ts: b.ts, type, previousValue: a.value, value: b.value, detectedAtMs: deps.clock() });
          }
        }
        prune(reg);
      }
      out.push(...derived.values());
      return { readings: out, events };
    },
    /**
     * normalize() without a promise, for a message with no register reading (nothing to load);
     * undefined when it has one. The ingest takes this path for most messages: a promise and its
     * microtask per message were a visible share of the cost of small messages
     * (bench/ingest-stages.ts, 1 and 10 readings per message).
     */
    normalizeNow(ref: MeterRef, msg: ValidReadingsMessage): NormalizedMessage | undefined {
      const readings = msg.readings;
      for (let i = 0; i < readings.length; i++) if (readings[i]!.kind === 'register') return undefined;
      const out: StoredReading[] = [];
      for (let i = 0; i < readings.length; i++) out.push(plainReading(ref, readings[i]!));
      return { readings: out, events: [] };
    },
    /**
     * Drops the in-memory register history of the meters `match` selects (by `site/building/meter`);
     * their next register reading loads it from the store again. For a meter whose readings
     * another process may have written meanwhile (a shard that moved between ingest workers):
     * stale history would give a wrong interval. Returns the series dropped.
     */
    forget(match: (meterKey: string) => boolean): number {
      let dropped = 0;
      for (const key of registers.keys()) {
        if (match(key.slice(0, key.lastIndexOf('|')))) {
          registers.delete(key);
          dropped++;
        }
      }
      return dropped;
    },
    /** Series whose register history is in memory (for metrics). */
    registerSeries(): number {
      return registers.size;
    },
  };
}
