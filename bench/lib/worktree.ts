/**
 * Another commit's checkout to run beside this one (`bench broker --baseline-commit REV`), and the
 * check that a checkout given as `--baseline DIR` really runs its own code.
 *
 * The trap this closes: a worktree whose `node_modules` is a plain link to this checkout's runs
 * *this* checkout's workspace packages. Node resolves `@wattproof/gateway` through the link to
 * `<this checkout>/node_modules/@wattproof/gateway`, a link to `../../gateway` of this checkout,
 * so the "baseline" gateway would be the same code as the one it is compared with, and every
 * ratio 1.00× within noise. A prepared worktree links every dependency but `@wattproof`, whose
 * packages point into the worktree itself.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { BenchUsageError } from './cli.js';

const run = promisify(execFile);

/** The workspaces of the checkout at `root` (its package.json's `workspaces`) that exist there, with their package names (`gateway`, `@wattproof/gateway`). */
async function workspaces(root: string): Promise<{ dir: string; name: string }[]> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { workspaces?: string[] };
  const dirs = (pkg.workspaces ?? []).filter((w) => existsSync(join(root, w, 'package.json')));
  return Promise.all(dirs.map(async (dir) => ({ dir, name: (JSON.parse(await readFile(join(root, dir, 'package.json'), 'utf8')) as { name: string }).name })));
}

/**
 * Throws a BenchUsageError unless `dir` is a checkout with `bin/wattproof.js` whose workspace
 * packages, as Node resolves them from there, are its own directories.
 */
export async function checkBaselineCheckout(dir: string): Promise<void> {
  if (!existsSync(join(dir, 'bin', 'wattproof.js'))) throw new BenchUsageError(`--baseline ${dir}: no bin/wattproof.js there; give a checkout of this project`);
  const root = await realpath(dir);
  for (const { dir: w, name } of await workspaces(root)) {
    const link = join(root, 'node_modules', ...name.split('/'));
    const resolved = existsSync(link) ? await realpath(link) : undefined;
    const own = await realpath(join(root, w));
    if (resolved !== own) {
      throw new BenchUsageError(
        `--baseline ${dir}: ${name} resolves to ${resolved ?? 'nothing'}, not to the checkout's own ${own}, so the baseline would not run its own code. ` +
          'Use --baseline-commit REV, which prepares a worktree whose node_modules links every dependency but the workspace packages.',
      );
    }
  }
}

export interface BaselineWorktree {
  readonly dir: string;
  readonly commit: string;
  /** Removes the worktree (`git worktree remove --force`); again, it does nothing. */
  remove(): Promise<void>;
}

/**
 * `git worktree add` of `rev` in a temp directory, with a `node_modules` of links to every entry
 * of `repoRoot`'s but the workspace packages' scope, which gets links into the worktree, and each
 * workspace's own `node_modules` (packages not hoisted) linked from `repoRoot`'s. The dependencies
 * are this checkout's: a commit whose package-lock differs needs its own `npm ci` instead.
 */
export async function prepareBaselineWorktree(rev: string, repoRoot: string): Promise<BaselineWorktree> {
  const commit = (await run('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: repoRoot }).catch(() => {
    throw new BenchUsageError(`--baseline-commit ${rev}: not a commit of ${repoRoot}`);
  })).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), `wattproof-baseline-${commit.slice(0, 7)}-`));
  await run('git', ['worktree', 'add', '--detach', dir, commit], { cwd: repoRoot });
  const remove = async () => {
    if (existsSync(dir)) await run('git', ['worktree', 'remove', '--force', dir], { cwd: repoRoot });
    await run('git', ['worktree', 'prune'], { cwd: repoRoot });
  };
  try {
    const packages = await workspaces(dir);
    const scopes = new Set(packages.map(({ name }) => name.split('/')[0]!));
    const modules = join(dir, 'node_modules');
    await mkdir(modules);
    for (const entry of await readdir(join(repoRoot, 'node_modules'))) {
      if (scopes.has(entry)) continue;
      await symlink(join(repoRoot, 'node_modules', entry), join(modules, entry));
    }
    for (const { dir: w, name } of packages) {
      const link = join(modules, ...name.split('/'));
      await mkdir(join(link, '..'), { recursive: true });
      await symlink(relative(join(link, '..'), join(dir, w)), link);
      const own = join(repoRoot, w, 'node_modules');
      if (existsSync(own) && !existsSync(join(dir, w, 'node_modules'))) await symlink(own, join(dir, w, 'node_modules'));
    }
    await checkBaselineCheckout(dir);
  } catch (err) {
    await remove().catch(() => undefined);
    throw err;
  }
  return { dir, commit, remove };
}
