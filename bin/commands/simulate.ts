import { parseArgs } from 'node:util';
import { loadConfig } from '@wattproof/core';
import { provisionDevice } from '@wattproof/gateway';
import { createSimulator, DEFAULT_SIMULATOR_CONFIG } from '@wattproof/simulators';
import { createLogger, openRegistry, runtimeConfigSchema, untilSignal, type Env } from '../runtime.js';

const HELP = `Usage: wattproof simulate [options]

Publishes simulated buildings through a gateway: per building an interval electricity
meter (kWh), a cumulative gas register (m3) and an outdoor thermometer (°C), each a
device with its own credentials (issued, or rotated, in the registry at start).
Backfills the last --backfill-hours as fast as --rate allows, then publishes each
interval as it completes.

Options:
  --url URL             broker (default mqtt://127.0.0.1:1883)
  --buildings N         buildings (default ${DEFAULT_SIMULATOR_CONFIG.buildings})
  --site ID             site id (default ${DEFAULT_SIMULATOR_CONFIG.site})
  --interval-s S        reading interval in seconds (default ${DEFAULT_SIMULATOR_CONFIG.intervalS})
  --backfill-hours H    history to publish at start (default ${DEFAULT_SIMULATOR_CONFIG.backfillHours})
  --rate N              messages per second at most while backfilling (default ${DEFAULT_SIMULATOR_CONFIG.ratePerS})
  --batch N             readings per message while backfilling (default ${DEFAULT_SIMULATOR_CONFIG.readingsPerMessage})
  --speedup X           replay the backfill at X simulated seconds per real second, one
                        reading per message (accelerated mode) instead of as fast as --rate
                        allows; real time once it reaches the present
`;

function positiveInt(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw Object.assign(new TypeError(`--${name} must be an integer >= ${min}`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
  return n;
}

export async function runSimulate(argv: string[], env: Env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      url: { type: 'string' },
      buildings: { type: 'string' },
      site: { type: 'string' },
      'interval-s': { type: 'string' },
      'backfill-hours': { type: 'string' },
      rate: { type: 'string' },
      batch: { type: 'string' },
      speedup: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const logger = createLogger(loadConfig(runtimeConfigSchema, env).LOG_LEVEL, 'simulate');
  const config = {
    url: values.url ?? 'mqtt://127.0.0.1:1883',
    site: values.site ?? DEFAULT_SIMULATOR_CONFIG.site,
    buildings: positiveInt('buildings', values.buildings, DEFAULT_SIMULATOR_CONFIG.buildings),
    intervalS: positiveInt('interval-s', values['interval-s'], DEFAULT_SIMULATOR_CONFIG.intervalS),
    backfillHours: positiveInt('backfill-hours', values['backfill-hours'], DEFAULT_SIMULATOR_CONFIG.backfillHours, 0),
    ratePerS: positiveInt('rate', values.rate, DEFAULT_SIMULATOR_CONFIG.ratePerS),
    readingsPerMessage: Math.min(1000, positiveInt('batch', values.batch, DEFAULT_SIMULATOR_CONFIG.readingsPerMessage)),
    ...(values.speedup !== undefined ? { speedup: positiveInt('speedup', values.speedup, 1) } : {}),
  };
  const registry = await openRegistry(env);
  const sim = createSimulator({ provision: (ref) => provisionDevice(registry, ref, { rotate: true }), logger }, config);
  process.stdout.write(`Simulating ${config.buildings} buildings x 3 meters on site ${config.site} -> ${config.url}\n`);
  const running = sim.start();
  const status = setInterval(() => {
    const s = sim.stats();
    process.stdout.write(`published ${s.messages} messages, ${s.readings} readings from ${s.devices} devices\n`);
  }, 10_000);
  await untilSignal(async () => {
    clearInterval(status);
    await sim.close();
    await registry.close();
  }, logger);
  await running.catch(() => undefined);
  return 0;
}
