/**
 * The V8 arguments the gateway and the ingest are tuned for (gateway/src/node-args.ts,
 * ingest/src/node-args.ts): which are missing from a command line, and the warning
 * `wattproof gateway` and `wattproof ingest` log when they run without them (real processes).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GATEWAY_NODE_ARGS } from '@wattproof/gateway';
import { INGEST_NODE_ARGS } from '@wattproof/ingest';
import { missingNodeArgs } from '../../bin/runtime.js';
import { freePort } from '../support/net.js';
import { REPO_ROOT, startService, type Service } from '../support/processes.js';

const WARNING = 'runs without the V8 flags it is tuned for';

describe('missingNodeArgs', () => {
  it('lists every wanted flag when none is given', () => {
    expect(missingNodeArgs(GATEWAY_NODE_ARGS, [])).toEqual([...GATEWAY_NODE_ARGS]);
    expect(missingNodeArgs(INGEST_NODE_ARGS, ['--enable-source-maps', '--import', 'tsx'])).toEqual([...INGEST_NODE_ARGS]);
  });

  it('lists none when they are given, in any order, among others', () => {
    expect(missingNodeArgs(GATEWAY_NODE_ARGS, ['--enable-source-maps', ...[...GATEWAY_NODE_ARGS].reverse()])).toEqual([]);
    expect(missingNodeArgs(INGEST_NODE_ARGS, INGEST_NODE_ARGS)).toEqual([]);
  });

  it('takes a flag set to another value, with underscores, or negated, as set on purpose', () => {
    expect(missingNodeArgs(GATEWAY_NODE_ARGS, ['--max_semi_space_size=32', '--heap-growing-percent=0'])).toEqual([]);
    expect(missingNodeArgs(INGEST_NODE_ARGS, ['--allocation-site-pretenuring', '--max-semi-space-size=16'])).toEqual([]);
    expect(missingNodeArgs(INGEST_NODE_ARGS, ['--allocation-site-pretenuring'])).toEqual(['--max-semi-space-size=64']);
  });

  it('names the one that is missing', () => {
    expect(missingNodeArgs(GATEWAY_NODE_ARGS, ['--max-semi-space-size=64'])).toEqual(['--heap-growing-percent=200']);
  });
});

describe('the warning of a service started without its V8 flags', () => {
  const dirs: string[] = [];
  const services: Service[] = [];
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop('SIGKILL')));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function gateway(nodeArgs: readonly string[]): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'wattproof-node-args-'));
    dirs.push(dir);
    const [mqtt, http] = await Promise.all([freePort(), freePort()]);
    const service = startService(
      ['gateway'],
      { WATTPROOF_DATA_DIR: dir, REGISTRY_STORE: 'embedded', GATEWAY_MQTT_HOST: '127.0.0.1', GATEWAY_MQTT_PORT: String(mqtt), GATEWAY_HTTP_PORT: String(http), LOG_LEVEL: 'warn' },
      nodeArgs,
    );
    services.push(service);
    await service.waitForOutput('Wattproof gateway:');
    await service.stop();
    return service.output();
  }

  it('is logged by `wattproof gateway` run as `node bin/wattproof.js gateway`, with the command to use', async () => {
    const out = await gateway([]);
    const line = out.split('\n').find((l) => l.includes(WARNING));
    expect(line, out).toBeDefined();
    const entry = JSON.parse(line!) as { level: number; missing: string[]; command: string };
    expect(entry.level).toBe(40);
    expect(entry.missing).toEqual([...GATEWAY_NODE_ARGS]);
    expect(entry.command).toBe(`node ${GATEWAY_NODE_ARGS.join(' ')} bin/wattproof.js gateway`);
  });

  it('is not logged when the gateway runs with GATEWAY_NODE_ARGS', async () => {
    const out = await gateway(GATEWAY_NODE_ARGS);
    expect(out).toContain('Wattproof gateway:');
    expect(out).not.toContain(WARNING);
  });

  it('is logged by `wattproof ingest` without INGEST_NODE_ARGS, before it connects', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wattproof-node-args-'));
    dirs.push(dir);
    // Nothing listens on the gateway port: the ingest logs the warning, then keeps trying to connect.
    const service = startService(['ingest'], {
      WATTPROOF_DATA_DIR: dir,
      READINGS_STORE: 'memory',
      REGISTRY_STORE: 'embedded',
      INGEST_MQTT_URL: `mqtt://127.0.0.1:${await freePort()}`,
      INGEST_MQTT_PASSWORD: 'not-used',
      INGEST_HTTP_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    });
    services.push(service);
    await service.waitForOutput(WARNING);
    const line = service.output().split('\n').find((l) => l.includes(WARNING))!;
    expect((JSON.parse(line) as { missing: string[] }).missing).toEqual([...INGEST_NODE_ARGS]);
  });
});

describe('the README', () => {
  it('gives the commands with the flags the services warn about', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    expect(readme).toContain(`\`node ${GATEWAY_NODE_ARGS.join(' ')} bin/wattproof.js gateway\``);
    expect(readme).toContain(`\`node ${INGEST_NODE_ARGS.join(' ')} bin/wattproof.js ingest\``);
  });
});
