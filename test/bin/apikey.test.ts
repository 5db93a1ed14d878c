/**
 * `wattproof apikey` as child processes on a fresh data directory (embedded registry): a key is
 * printed once and stored as a digest only, listed without secrets, checked against the finance
 * registry's parties, and revoked; bad arguments exit 2 with the reason.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessControl, parseApiKey } from '@wattproof/dashboards';
import { createJsonlRegistryStore, REGISTRY_DATA_SUBDIR } from '@wattproof/gateway/registry';
import { embeddedCliEnv, runCli, type RunResult } from '../support/processes.js';

let dataDir: string;

function wattproof(...args: string[]): Promise<RunResult> {
  return runCli(args, embeddedCliEnv(dataDir), 120_000);
}

async function allFiles(dir: string): Promise<string> {
  let text = '';
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    text += e.isDirectory() ? await allFiles(p) : await readFile(p, 'utf8');
  }
  return text;
}

/** Checks a key against the registry files, as a fresh API process would. */
async function check(key: string) {
  const registry = createJsonlRegistryStore({ dir: join(dataDir, REGISTRY_DATA_SUBDIR) });
  await registry.init();
  try {
    return await createAccessControl({ registry }).checkKey(key);
  } finally {
    await registry.close();
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'wattproof-apikey-cli-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('wattproof apikey', () => {
  let lenderKey = '';

  it('adds a key, prints it once, stores only its digest', async () => {
    const r = await wattproof('apikey', 'add', '--role', 'lender', '--party', 'bank-cq', '--grant', 'loan:L1', '--grant', 'building:yuzhong/yz-hotel', '--expires', '2099-12-31', '--label', 'Bank CQ reporting');
    expect(r.stderr).toContain('party bank-cq is not in the finance registry');
    expect(r.code).toBe(0);
    const m = /key: +(wp_\S+)/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    lenderKey = m![1]!;
    expect(r.stdout).toContain('grants:   loan:L1 building:yuzhong/yz-hotel');
    expect(r.stdout).toContain('expires:  2099-12-31T16:00:00.000Z');
    const { keyId, secret } = parseApiKey(lenderKey)!;
    const files = await allFiles(dataDir);
    expect(files).toContain(keyId);
    expect(files).not.toContain(secret);
    expect(await check(lenderKey)).toMatchObject({ ok: true, identity: { role: 'lender', party: 'bank-cq', grants: [{ kind: 'loan', id: 'L1' }, { kind: 'building', site: 'yuzhong', building: 'yz-hotel' }] } });
  }, 120_000);

  it('lists keys with state and no secret', async () => {
    const admin = await wattproof('apikey', 'add', '--role', 'admin', '--label', 'ops');
    expect(admin.code).toBe(0);
    const list = await wattproof('apikey', 'list');
    expect(list.code).toBe(0);
    const { keyId, secret } = parseApiKey(lenderKey)!;
    const line = list.stdout.split('\n').find((l) => l.startsWith(keyId));
    expect(line).toBe(`${keyId}\tlender\tbank-cq\tloan:L1,building:yuzhong/yz-hotel\texpires 2099-12-31T16:00:00.000Z\tactive\t"Bank CQ reporting"`);
    expect(list.stdout.split('\n').filter(Boolean)).toHaveLength(2);
    expect(list.stdout).not.toContain(secret);
    const json = await wattproof('apikey', 'list', '--json');
    expect(JSON.parse(json.stdout).map((k: { keyId: string; state: string }) => [k.keyId, k.state])).toContainEqual([keyId, 'active']);
    expect(json.stdout).not.toMatch(/secretHash|sha256\$/);
  }, 180_000);

  it('checks the party against the finance registry when it is there', async () => {
    const load = await wattproof('finance', 'load', 'docs/examples/finance.yaml');
    expect(load.code, load.stderr).toBe(0);
    const ok = await wattproof('apikey', 'add', '--role', 'lender', '--party', 'cq-green-bank', '--label', 'green bank');
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe('');
    const wrong = await wattproof('apikey', 'add', '--role', 'insurer', '--party', 'cq-green-bank', '--label', 'x');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('party cq-green-bank has roles bank; a key of role insurer needs a party with role insurer');
  }, 180_000);

  it('revokes a key: refused from then on, shown as revoked', async () => {
    const { keyId } = parseApiKey(lenderKey)!;
    const r = await wattproof('apikey', 'revoke', keyId, '--reason', 'rotated');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Revoked ${keyId} at \\d{4}-`));
    expect(await check(lenderKey)).toMatchObject({ ok: false, code: 'AUTH_REVOKED' });
    expect((await wattproof('apikey', 'list')).stdout).toMatch(new RegExp(`${keyId}\\t.*\\trevoked \\d{4}-`));
    const unknown = await wattproof('apikey', 'revoke', 'aaaaaaaaaaaaaaaa');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('AUTH_KEY_UNKNOWN');
  }, 180_000);

  it('refuses bad arguments with the reason', async () => {
    const cases: Array<[string[], number, string]> = [
      [['add', '--role', 'root', '--label', 'x'], 2, '--role must be one of'],
      [['add', '--role', 'lender', '--grant', 'loan', '--label', 'x'], 2, '--grant loan: must be'],
      [['add', '--role', 'lender', '--party', 'b', '--expires', '2027-02-30', '--label', 'x'], 2, '--expires 2027-02-30'],
      [['add', '--role', 'lender', '--label', 'nothing'], 1, 'AUTH_KEY_SPEC_INVALID'],
    ];
    const runs = await Promise.all(cases.map(([args]) => wattproof('apikey', ...args)));
    runs.forEach((r, i) => {
      const [args, code, message] = cases[i]!;
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toContain(message);
    });
  }, 180_000);
});
