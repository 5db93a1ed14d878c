/**
 * The console front end, bundled in memory with esbuild the first time it is asked for (no build
 * step, nothing written to disk): one JavaScript and one CSS file with content hashes in their
 * names, so they can be cached for good, plus an optional source map.
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** One bundled file as served under /console/. */
export interface ConsoleAsset {
  /** File name with its content hash, e.g. `main-3KQ2ZC7P.js`. */
  readonly name: string;
  readonly contentType: string;
  readonly body: Buffer;
  /** Strong ETag of the body. */
  readonly etag: string;
}

export interface ConsoleBundle {
  readonly script: ConsoleAsset;
  readonly style: ConsoleAsset;
  /** Every file by name (script, style and source maps). */
  readonly files: ReadonlyMap<string, ConsoleAsset>;
  /** Bundling time, ms. */
  readonly buildMs: number;
}

export interface ConsoleBundleOptions {
  /** Entry module; the console's own main.tsx by default. */
  readonly entry?: string;
  readonly minify?: boolean;
  readonly sourcemap?: boolean;
}

/** The console's entry module. */
export const CONSOLE_ENTRY = fileURLToPath(new URL('../../console/src/main.tsx', import.meta.url));

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json; charset=utf-8' };

async function bundle(options: Required<ConsoleBundleOptions>): Promise<ConsoleBundle> {
  const t0 = performance.now();
  const result = await build({
    entryPoints: { main: options.entry },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: options.minify,
    sourcemap: options.sourcemap ? 'linked' : false,
    // Hashed names: the files can be cached for a year, the page that names them cannot.
    entryNames: '[name]-[hash]',
    outdir: '/console',
    logLevel: 'silent',
    legalComments: 'none',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files = new Map<string, ConsoleAsset>();
  for (const f of result.outputFiles) {
    const name = basename(f.path);
    const ext = name.slice(name.lastIndexOf('.'));
    const body = Buffer.from(f.contents);
    files.set(name, { name, contentType: TYPES[ext] ?? 'application/octet-stream', body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` });
  }
  const script = [...files.values()].find((f) => f.name.endsWith('.js'));
  const style = [...files.values()].find((f) => f.name.endsWith('.css'));
  if (!script || !style) throw new Error(`the console bundle lacks ${script ? 'a stylesheet' : 'a script'}`);
  return { script, style, files, buildMs: performance.now() - t0 };
}

const memo = new Map<string, Promise<ConsoleBundle>>();

/**
 * Bundles the console once per process and options; later calls get the same promise. A failed
 * build is forgotten, so the next call tries again.
 * @throws the esbuild error (with file and line) when the sources do not compile.
 */
export function consoleBundle(options: ConsoleBundleOptions = {}): Promise<ConsoleBundle> {
  const full = { entry: options.entry ?? CONSOLE_ENTRY, minify: options.minify ?? true, sourcemap: options.sourcemap ?? false };
  const key = JSON.stringify(full);
  let pending = memo.get(key);
  if (!pending) {
    pending = bundle(full);
    memo.set(key, pending);
    pending.catch(() => memo.delete(key));
  }
  return pending;
}
