import { parseArgs } from 'node:util';
import { QUANTITIES, type Quantity } from '@wattproof/core';
import { provisionAggregator, provisionDevice, provisionService } from '@wattproof/gateway';
import { openRegistry, type Env } from '../runtime.js';

const HELP = `Usage:
  wattproof device add <site>/<building>/<meter> [--rotate] [--quantity Q]
      Creates a device bound to that meter and prints its secret ONCE (only its hash
      is stored). --rotate issues a new secret for an existing device.
  wattproof device add-aggregator <site> [--name N] [--rotate]
      Creates an aggregator: a data concentrator of one site that may publish the readings and
      status of every meter of that site (wattproof/v1/<site>/+/+/readings|status) over one
      connection, and nothing else. Prints its username (aggregator:<site>, or
      aggregator:<site>:<N> with --name for a second one) and its secret ONCE.
  wattproof device add-service <name> [--role service|operator] [--secret-env VAR]
      Creates (or rotates) a service login, e.g. wattproof-ingest for the ingest process.
      --secret-env VAR takes the secret from environment variable VAR instead of generating
      one (for deployments that share it through their own secret store, e.g. compose).
  wattproof device list
  wattproof device disable <username>

The registry is REGISTRY_POSTGRES_URL when set, else the embedded files in
WATTPROOF_DATA_DIR (default ./data); a running gateway sees new devices at once.
`;

export async function runDevice(argv: string[], env: Env): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      rotate: { type: 'boolean' },
      quantity: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      'secret-env': { type: 'string' },
    },
  });
  const [action, target, ...extra] = positionals;
  if (extra.length) {
    process.stderr.write(`unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.join(' ')} (ids cannot contain spaces)\n`);
    return 2;
  }
  if (values.help || !action) {
    process.stdout.write(HELP);
    return values.help ? 0 : 2;
  }
  if (values.quantity !== undefined && !(QUANTITIES as readonly string[]).includes(values.quantity)) {
    process.stderr.write(`--quantity must be one of ${QUANTITIES.join(', ')}\n`);
    return 2;
  }
  const registry = await openRegistry(env);
  try {
    switch (action) {
      case 'add': {
        if (!target) break;
        const creds = await provisionDevice(registry, target, { rotate: Boolean(values.rotate), ...(values.quantity ? { quantity: values.quantity as Quantity } : {}) });
        process.stdout.write(
          `${creds.rotated ? 'Rotated' : 'Created'} device ${creds.username}\n` +
            `  MQTT username: ${creds.username}\n  MQTT password: ${creds.secret}\n` +
            `  publish to:    wattproof/v1/${creds.username}/readings (QoS 1)\n` +
            `The password is shown only now; store it on the device.\n`,
        );
        return 0;
      }
      case 'add-aggregator': {
        if (!target) break;
        const creds = await provisionAggregator(registry, target, { rotate: Boolean(values.rotate), ...(values.name !== undefined ? { name: values.name } : {}) });
        process.stdout.write(
          `${creds.rotated ? 'Rotated' : 'Created'} aggregator ${creds.username} for site ${target}\n` +
            `  MQTT username: ${creds.username}\n  MQTT password: ${creds.secret}\n` +
            `  publish to:    wattproof/v1/${target}/<building>/<meter>/readings (QoS 1), any meter of the site\n` +
            `The password is shown only now; store it on the aggregator.\n`,
        );
        return 0;
      }
      case 'add-service': {
        if (!target) break;
        const role = values.role ?? 'service';
        if (role !== 'service' && role !== 'operator') {
          process.stderr.write('--role must be service or operator\n');
          return 2;
        }
        const fromEnv = values['secret-env'];
        if (fromEnv !== undefined && (env[fromEnv] ?? '').length < 16) {
          process.stderr.write(`--secret-env ${fromEnv}: the variable must hold a secret of at least 16 characters\n`);
          return 2;
        }
        const creds = await provisionService(registry, target, role, fromEnv ? { secret: env[fromEnv]! } : {});
        process.stdout.write(
          fromEnv
            ? `${creds.rotated ? 'Rotated' : 'Created'} ${role} ${creds.username} with the secret from $${fromEnv}\n`
            : `${creds.rotated ? 'Rotated' : 'Created'} ${role} ${creds.username}\n  MQTT username: ${creds.username}\n  MQTT password: ${creds.secret}\nThe password is shown only now.\n`,
        );
        return 0;
      }
      case 'list': {
        for (const p of await registry.listPrincipals()) {
          process.stdout.write(`${p.username}\t${p.role}\t${new Date(p.createdAtMs).toISOString()}${p.disabledAtMs !== undefined ? '\tdisabled' : ''}\n`);
        }
        return 0;
      }
      case 'disable': {
        if (!target) break;
        const ok = await registry.disablePrincipal(target, Date.now());
        process.stdout.write(ok ? `Disabled ${target}\n` : `No principal ${target}\n`);
        return ok ? 0 : 1;
      }
      default:
        process.stderr.write(`unknown action "${action}"\n\n${HELP}`);
        return 2;
    }
    process.stderr.write(`missing argument\n\n${HELP}`);
    return 2;
  } finally {
    await registry.close();
  }
}
