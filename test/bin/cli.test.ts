/**
 * The real `wattproof` command as child processes (`node bin/wattproof.js ...`) on a fresh
 * data directory with the default (embedded) stores: usage and exit codes, device
 * provisioning that shows a secret once and stores only its hash, and the config table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifySecret } from '@wattproof/core';
import { gatewayConfigSchema } from '@wattproof/gateway';
import { registryConfigSchema } from '@wattproof/gateway/registry';
import { ingestConfigSchema } from '@wattproof/ingest';
import { readingStoreConfigSchema } from '@wattproof/ingest/stores';
import { runtimeConfigSchema } from '../../bin/runtime.js';
import { embeddedCliEnv, runCli, type RunResult } from '../support/processes.js';

const SUBCOMMANDS = ['start', 'gateway', 'ingest', 'api', 'simulate', 'device', 'config'] as const;

let dataDir: string;

function wattproof(...args: string[]): Promise<RunResult> {
  return wattproofWith({}, ...args);
}

function wattproofWith(extraEnv: Record<string, string>, ...args: string[]): Promise<RunResult> {
  return runCli(args, embeddedCliEnv(dataDir, extraEnv), 120_000);
}

/** Every file under the data directory with its text. */
async function dataFiles(dir = dataDir): Promise<Array<{ path: string; text: string }>> {
  const out: Array<{ path: string; text: string }> = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await dataFiles(path)));
    else out.push({ path, text: await readFile(path, 'utf8') });
  }
  return out;
}

/** The secret hashes of a principal, in the order they were written to the registry log. */
async function principalHashes(username: string): Promise<string[]> {
  const log = await readFile(join(dataDir, 'registry', 'registry.jsonl'), 'utf8');
  return log
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { op: string; value: { username?: string; secretHash?: string } })
    .filter((r) => r.op === 'principal' && r.value.username === username)
    .map((r) => r.value.secretHash ?? '');
}

function secretOf(run: RunResult): string {
  const m = /MQTT password: (\S+)/.exec(run.stdout);
  if (!m?.[1]) throw new Error(`no secret in output:\n${run.stdout}\n${run.stderr}`);
  return m[1];
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'wattproof-cli-'));
});

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('usage', () => {
  it('--help prints the command list and exits 0', async () => {
    const r = await wattproof('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: wattproof <command> \[options\]/);
    for (const name of SUBCOMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${name} +\\S`, 'm'));
    // Every summary starts in one column, the longest command name included.
    const columns = new Set(r.stdout.split('\n').filter((l) => /^  [a-z]/.test(l)).map((l) => /^  \S+ +/.exec(l)![0].length));
    expect(columns.size).toBe(1);
  });

  for (const name of SUBCOMMANDS) {
    it(`${name} --help prints its usage and exits 0`, async () => {
      const r = await wattproof(name, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage:/);
      expect(r.stdout).toContain(`wattproof ${name}`);
      expect(r.stderr).toBe('');
    });
  }

  it('an unknown command exits 2 and names it', async () => {
    const r = await wattproof('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('wattproof: unknown command "frobnicate"');
    expect(r.stderr).toContain('Usage: wattproof <command>');
  });

  it('an unknown option exits 2', async () => {
    const r = await wattproof('device', 'list', '--frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--frobnicate'");
  });
});

describe('device provisioning', () => {
  let firstSecret = '';

  it('device add prints a secret once and stores only its hash (salted SHA-256: the secret is generated)', async () => {
    const r = await wattproof('device', 'add', 'yz/b01/elec');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Created device yz/b01/elec');
    expect(r.stdout).toContain('MQTT username: yz/b01/elec');
    expect(r.stdout).toContain('wattproof/v1/yz/b01/elec/readings');
    firstSecret = secretOf(r);
    expect(firstSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.stdout.split(firstSecret)).toHaveLength(2); // printed exactly once

    const files = await dataFiles();
    expect(files.map((f) => f.path.slice(dataDir.length + 1)).sort()).toContain(join('registry', 'registry.jsonl'));
    for (const f of files) expect(f.text, f.path).not.toContain(firstSecret);
    const hashes = await principalHashes('yz/b01/elec');
    expect(hashes).toHaveLength(1);
    expect(hashes[0]).toMatch(/^sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifySecret(firstSecret, hashes[0]!)).toBe(true);
  });

  it('device add of an existing device fails with DEVICE_EXISTS and exit 1', async () => {
    const r = await wattproof('device', 'add', 'yz/b01/elec');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('DEVICE_EXISTS');
    expect(r.stderr).toContain('--rotate');
    expect(r.stdout).not.toContain('MQTT password');
    expect(await principalHashes('yz/b01/elec')).toHaveLength(1);
  });

  it('device add --rotate issues a new secret that replaces the old one', async () => {
    const r = await wattproof('device', 'add', 'yz/b01/elec', '--rotate');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Rotated device yz/b01/elec');
    const secret = secretOf(r);
    expect(secret).not.toBe(firstSecret);
    for (const f of await dataFiles()) {
      expect(f.text, f.path).not.toContain(secret);
      expect(f.text, f.path).not.toContain(firstSecret);
    }
    const hashes = await principalHashes('yz/b01/elec');
    expect(hashes).toHaveLength(2);
    const latest = hashes[1]!;
    expect(await verifySecret(secret, latest)).toBe(true);
    expect(await verifySecret(firstSecret, latest)).toBe(false);
  });

  it('device add with a bad id fails with DEVICE_ID_INVALID naming it', async () => {
    const spaced = await wattproof('device', 'add', 'yz/b 01/elec');
    expect(spaced.code).toBe(1);
    expect(spaced.stderr).toContain('DEVICE_ID_INVALID: "yz/b 01/elec" is not site/building/meter');
    expect(spaced.stdout).not.toContain('MQTT password');

    const twoWords = await wattproof('device', 'add', 'bad', 'id');
    expect(twoWords.code).toBe(2);
    expect(twoWords.stderr).toContain('unexpected argument: id');
    expect(twoWords.stdout).not.toContain('MQTT password');
  });

  it('device list shows the device once', async () => {
    const r = await wattproof('device', 'list');
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^yz\/b01\/elec\tdevice\t\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('device add-service --secret-env keeps a supplied secret as scrypt, whose entropy is unknown', async () => {
    const r = await wattproofWith({ SVC_SECRET: 'operator-chosen-secret-1' }, 'device', 'add-service', 'svc-one', '--secret-env', 'SVC_SECRET');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('operator-chosen-secret-1');
    const hashes = await principalHashes('svc-one');
    expect(hashes).toHaveLength(1);
    expect(hashes[0]).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(await verifySecret('operator-chosen-secret-1', hashes[0]!)).toBe(true);
  });
});

describe('config', () => {
  it('config --markdown prints a table with every key of every schema', async () => {
    const r = await wattproof('config', '--markdown');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('| key | default | meaning |');
    const schemas = { runtimeConfigSchema, gatewayConfigSchema, ingestConfigSchema, readingStoreConfigSchema, registryConfigSchema };
    const missing: string[] = [];
    for (const [name, schema] of Object.entries(schemas)) {
      const keys = Object.keys(schema.shape);
      expect(keys.length, name).toBeGreaterThan(0);
      for (const key of keys) if (!r.stdout.includes(`| \`${key}\` |`)) missing.push(`${name}.${key}`);
    }
    expect(missing).toEqual([]);
    // Each key once, even the data directory that two schemas share.
    expect(r.stdout.split('| `WATTPROOF_DATA_DIR` |')).toHaveLength(2);
  });
});
