import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchUsageError } from '../../../bench/lib/cli.js';
import { checkBaselineCheckout, prepareBaselineWorktree, type BaselineWorktree } from '../../../bench/lib/worktree.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

/** The file a script in `dir` resolves a package to (its real path), asked of a fresh Node process (as the gateway would). */
async function resolvesTo(dir: string, specifier: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['-e', `process.stdout.write(require('node:fs').realpathSync(require.resolve(${JSON.stringify(specifier)})))`], { cwd: join(dir, 'bin') });
  return stdout;
}

describe('baseline worktrees', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('prepares a worktree of a commit that runs its own workspace packages and this checkout dependencies', async () => {
    const wt: BaselineWorktree = await prepareBaselineWorktree('HEAD', ROOT);
    cleanup.push(() => wt.remove());
    const { stdout: head } = await run('git', ['rev-parse', 'HEAD'], { cwd: ROOT });
    expect(wt.commit).toBe(head.trim());
    expect(existsSync(join(wt.dir, 'bin', 'wattproof.js'))).toBe(true);
    const own = await realpath(wt.dir);
    expect(await resolvesTo(wt.dir, '@wattproof/gateway')).toMatch(new RegExp(`^${own}/gateway/`));
    expect(await resolvesTo(wt.dir, '@wattproof/core')).toMatch(new RegExp(`^${own}/core/`));
    // Dependencies are this checkout's, not installed again.
    expect(await resolvesTo(wt.dir, 'aedes')).toMatch(new RegExp(`^${await realpath(join(ROOT, 'node_modules', 'aedes'))}/`));
    await expect(checkBaselineCheckout(wt.dir)).resolves.toBeUndefined();

    await wt.remove();
    expect(existsSync(wt.dir)).toBe(false);
    const { stdout: list } = await run('git', ['worktree', 'list'], { cwd: ROOT });
    expect(list).not.toContain(wt.dir);
  });

  it('refuses a checkout whose node_modules is a plain link to this one (it would run this code)', async () => {
    const wt = await prepareBaselineWorktree('HEAD', ROOT);
    cleanup.push(() => wt.remove());
    await rm(join(wt.dir, 'node_modules'), { recursive: true });
    await symlink(join(ROOT, 'node_modules'), join(wt.dir, 'node_modules'));
    // What the check guards against: the worktree's gateway package is this checkout's.
    expect(await resolvesTo(wt.dir, '@wattproof/gateway')).toMatch(new RegExp(`^${await realpath(ROOT)}/?gateway/`));
    const err = await checkBaselineCheckout(wt.dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BenchUsageError);
    expect((err as Error).message).toMatch(/@wattproof\/\w+ resolves to .* not to the checkout's own/);
    expect((err as Error).message).toContain('--baseline-commit');
  });

  it('refuses a directory that is no checkout, and a revision that is no commit', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'wattproof-not-a-checkout-'));
    cleanup.push(() => rm(empty, { recursive: true, force: true }));
    await expect(checkBaselineCheckout(empty)).rejects.toThrow(/no bin\/wattproof\.js/);
    await expect(prepareBaselineWorktree('no-such-revision-of-wattproof', ROOT)).rejects.toThrow(/not a commit/);
  });
});
