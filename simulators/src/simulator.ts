/**
 * The minimal simulator: N buildings on one site, each with three devices (interval
 * electricity in kWh, a cumulative gas register in m3, outdoor temperature in °C) publishing
 * through the gateway with their own credentials, QoS 1, a retained online status and a Last
 * Will. It first backfills the last `backfillHours` as fast as `ratePerS` allows, then
 * publishes each interval as it completes (real time).
 */
import { connect, type MqttClient } from 'mqtt';
import { readingsTopic, silentLogger, statusTopic, type Logger, type MeterRef } from '@wattproof/core';
import { buildingProfile, createRng, electricKw, gasM3PerH, outdoorTemperatureC, type BuildingProfile } from './model.js';

export interface SimulatorDeps {
  /** Issues credentials for a meter's device (provisions it in the registry). */
  provision(ref: MeterRef): Promise<{ username: string; secret: string }>;
  readonly clock?: () => number;
  readonly logger?: Logger;
}

export interface SimulatorConfig {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  readonly url: string;
  readonly site: string;
  readonly buildings: number;
  /** Interval length of the electricity and gas readings, seconds. */
  readonly intervalS: number;
  /** How far back to backfill at start, hours (0 = none). */
  readonly backfillHours: number;
  /** Messages per second at most during backfill. */
  readonly ratePerS: number;
  /** Readings per message during backfill. */
  readonly readingsPerMessage: number;
  /**
   * Simulated seconds per real second while catching up from `now - backfillHours` (accelerated
   * mode: timestamps in simulated time); unset = backfill as fast as `ratePerS` allows. Either
   * way the simulator turns to real time once it reaches the present, so no timestamp is ever
   * in the future.
   */
  readonly speedup?: number;
}

export const DEFAULT_SIMULATOR_CONFIG: Omit<SimulatorConfig, 'url'> = {
  site: 'yuzhong',
  buildings: 3,
  intervalS: 60,
  backfillHours: 24,
  ratePerS: 200,
  readingsPerMessage: 60,
};

type MeterKind = 'elec-main' | 'gas-main' | 'outdoor-temp';
const METERS: MeterKind[] = ['elec-main', 'gas-main', 'outdoor-temp'];

interface SimDevice {
  readonly ref: MeterRef;
  readonly kind: MeterKind;
  readonly building: number;
  readonly profile: BuildingProfile;
  client?: MqttClient;
  seq: number;
}

/** Building id of the i-th simulated building (0-based): b01, b02, ... */
export function buildingId(i: number): string {
  return `b${String(i + 1).padStart(2, '0')}`;
}

export function createSimulator(deps: SimulatorDeps, config: SimulatorConfig) {
  const clock = deps.clock ?? Date.now;
  const logger = deps.logger ?? silentLogger;
  const intervalMs = config.intervalS * 1000;
  const devices: SimDevice[] = [];
  for (let b = 0; b < config.buildings; b++) {
    for (const kind of METERS) {
      devices.push({ ref: { site: config.site, building: buildingId(b), meter: kind }, kind, building: b, profile: buildingProfile(b), seq: 0 });
    }
  }
  // Gas register: index at aligned interval starts from a fixed origin, so restarts continue it.
  const origin = Date.UTC(2026, 0, 1);
  const gasIndex = new Map<number, { lastTs: number; value: number }>();
  function gasRegister(d: SimDevice, ts: number): number {
    let state = gasIndex.get(d.building);
    if (!state || state.lastTs > ts) state = { lastTs: origin, value: 10_000 + d.building * 1_000 };
    for (let t = state.lastTs; t < ts; t += intervalMs) state.value += (gasM3PerH(d.profile, t) * config.intervalS) / 3600;
    state.lastTs = ts;
    gasIndex.set(d.building, state);
    return Math.round(state.value * 1000) / 1000;
  }

  function reading(d: SimDevice, ts: number) {
    switch (d.kind) {
      case 'elec-main': {
        const rng = createRng((d.building * 7919) ^ Math.floor(ts / 1000));
        return { ts, quantity: 'electricity', unit: 'kWh', kind: 'interval', intervalS: config.intervalS, value: Math.round(((electricKw(d.profile, ts, rng) * config.intervalS) / 3600) * 1000) / 1000 };
      }
      case 'gas-main':
        return { ts, quantity: 'gas', unit: 'm3', kind: 'register', value: gasRegister(d, ts) };
      case 'outdoor-temp':
        return { ts, quantity: 'outdoor_temperature', unit: '°C', kind: 'instant', value: Math.round(outdoorTemperatureC(ts) * 100) / 100 };
    }
  }

  let published = 0;
  let readingsPublished = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let nextTs = 0;

  async function publish(d: SimDevice, readings: ReturnType<typeof reading>[]): Promise<void> {
    if (!d.client || stopped) return;
    d.seq++;
    await d.client.publishAsync(readingsTopic(d.ref), JSON.stringify({ seq: d.seq, readings }), { qos: 1 });
    published++;
    readingsPublished += readings.length;
  }

  async function tick(): Promise<void> {
    const now = clock();
    while (!stopped && nextTs + intervalMs <= now) {
      const ts = nextTs;
      await Promise.all(devices.map((d) => publish(d, [reading(d, ts)])));
      nextTs += intervalMs;
    }
    if (!stopped) timer = setTimeout(() => void tick().catch((err: unknown) => logger.error({ err }, 'simulator publish failed')), Math.max(100, nextTs + intervalMs - clock() + 200));
  }

  return {
    devices: () => devices.map((d) => d.ref),
    async start(): Promise<void> {
      for (const d of devices) {
        const creds = await deps.provision(d.ref);
        const client = connect(config.url, {
          clientId: creds.username,
          username: creds.username,
          password: creds.secret,
          clean: true,
          reconnectPeriod: 1000,
          will: { topic: statusTopic(d.ref), payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
        });
        d.client = client;
        client.on('error', (err) => logger.warn({ err: err.message, device: creds.username }, 'device mqtt error'));
        await new Promise<void>((resolve, reject) => {
          client.once('connect', () => resolve());
          client.once('error', reject);
        });
        (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
        await client.publishAsync(statusTopic(d.ref), JSON.stringify({ state: 'online', ts: clock() }), { qos: 1, retain: true });
      }
      const now = clock();
      const end = Math.floor(now / intervalMs) * intervalMs;
      nextTs = end - Math.round(config.backfillHours * 3_600_000 / intervalMs) * intervalMs;
      const speedup = config.speedup;
      if (speedup !== undefined && speedup > 0) {
        // Accelerated: the simulated clock runs `speedup` times faster from the backfill start.
        const simStart = nextTs;
        const realStart = clock();
        while (!stopped && nextTs < clock() - intervalMs) {
          const simNow = Math.min(clock(), simStart + (clock() - realStart) * speedup);
          while (!stopped && nextTs + intervalMs <= simNow) {
            const ts = nextTs;
            await Promise.all(devices.map((d) => publish(d, [reading(d, ts)])));
            nextTs += intervalMs;
          }
          await new Promise((r) => setTimeout(r, Math.max(10, Math.min(1000, intervalMs / speedup))));
        }
        await tick();
        return;
      }
      // Backfill: whole completed intervals, several readings per message, rate-limited.
      const gapMs = 1000 / config.ratePerS;
      for (let start = nextTs; start < end && !stopped; start += intervalMs * config.readingsPerMessage) {
        const stop = Math.min(end, start + intervalMs * config.readingsPerMessage);
        const t0 = Date.now();
        await Promise.all(
          devices.map((d) => {
            const rs = [];
            for (let ts = start; ts < stop; ts += intervalMs) rs.push(reading(d, ts));
            return publish(d, rs);
          }),
        );
        const wait = gapMs * devices.length - (Date.now() - t0);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      nextTs = end;
      logger.info({ devices: devices.length, messages: published, readings: readingsPublished }, 'simulator backfill done');
      await tick();
    },
    stats() {
      return { devices: devices.length, messages: published, readings: readingsPublished };
    },
    async close(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await Promise.all(
        devices.map(async (d) => {
          if (!d.client) return;
          await d.client.publishAsync(statusTopic(d.ref), JSON.stringify({ state: 'offline', ts: clock() }), { qos: 1, retain: true }).catch(() => undefined);
          await d.client.endAsync();
        }),
      );
    },
  };
}
