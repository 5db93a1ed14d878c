/**
 * Starts a real, throwaway PostgreSQL server for contract and end-to-end tests, from the
 * binaries of Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`, highest
 * version wins). Data and the Unix socket live in a temp directory removed by `stop()`; the
 * server listens on 127.0.0.1 only, with trust authentication for the `postgres` user and
 * fsync off (test data is disposable).
 */
import { execFile } from 'node:child_process';
import { access, chmod, chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './net.js';

const run = promisify(execFile);

/** Where Debian installs the server binaries. */
export const DEBIAN_POSTGRES_ROOT = '/usr/lib/postgresql';

export interface TestPostgres {
  /** `postgresql://postgres@127.0.0.1:<port>/<db>`; db defaults to `postgres`. */
  connectionString(db?: string): string;
  /** Creates a database (name: lower-case letters, digits, `_`) and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown) and removes its directory. Safe to call twice. */
  stop(): Promise<void>;
  readonly port: number;
  readonly version: string;
}

/**
 * Finds the bin directory of the highest installed PostgreSQL version.
 * @throws Error naming the package to install when none is found.
 */
export async function findPostgresBin(): Promise<{ bin: string; version: string }> {
  let versions: string[] = [];
  try {
    versions = (await readdir(DEBIAN_POSTGRES_ROOT)).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
  } catch {
    versions = [];
  }
  for (const version of versions) {
    const bin = join(DEBIAN_POSTGRES_ROOT, version, 'bin');
    try {
      await access(join(bin, 'initdb'));
      await access(join(bin, 'pg_ctl'));
      return { bin, version };
    } catch {
      // An incomplete install (e.g. client only): try the next version.
    }
  }
  throw new Error(
    `PostgreSQL server binaries not found under ${DEBIAN_POSTGRES_ROOT}/<version>/bin (initdb, pg_ctl). ` +
      'Install them with `apt-get install -y postgresql` (the PostgreSQL tests need a real server and are not skipped).',
  );
}

/** Starts a fresh PostgreSQL server on a free loopback port. */
export async function startPostgres(): Promise<TestPostgres> {
  const { bin, version } = await findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const superuser = 'postgres';

  // PostgreSQL refuses to run as root: run its binaries as the `postgres` system user then.
  const exec = (tool: string, args: string[]) => {
    const file = join(bin, tool);
    return asRoot ? run('runuser', ['-u', 'postgres', '--', file, ...args], { cwd: dir, timeout: 120_000 }) : run(file, args, { cwd: dir, timeout: 120_000 });
  };

  let started = false;
  const cleanup = async () => {
    if (started) {
      started = false;
      await exec('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => undefined);
    }
    await rm(dir, { recursive: true, force: true });
  };

  let port = 0;
  try {
    if (asRoot) {
      const { stdout } = await run('id', ['-u', 'postgres']).catch(() => {
        throw new Error('running as root but there is no `postgres` system user; install the `postgresql` package');
      });
      const { stdout: gid } = await run('id', ['-g', 'postgres']);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await chmod(dir, 0o700);
    await exec('initdb', ['-D', dataDir, '-A', 'trust', '-U', superuser, '-E', 'UTF8', '--locale=C', '--no-sync']);
    port = await freePort();
    const serverOptions = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'].join(' ');
    await exec('pg_ctl', ['-D', dataDir, '-o', serverOptions, '-l', logFile, '-w', '-t', '60', 'start']);
    started = true;
  } catch (err) {
    const log = await readFile(logFile, 'utf8').catch(() => '');
    await cleanup();
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`could not start PostgreSQL ${version} (as ${asRoot ? 'postgres via runuser' : userInfo().username}): ${(err as Error).message}\n${stderr}\n${log.slice(-2000)}`, { cause: err });
  }

  const connectionString = (db = 'postgres') => `postgresql://${superuser}@127.0.0.1:${port}/${encodeURIComponent(db)}`;

  return {
    port,
    version,
    connectionString,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid test database name ${JSON.stringify(name)}`);
      const client = new pg.Client({ connectionString: connectionString() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return connectionString(name);
    },
    stop: cleanup,
  };
}
