/**
 * The local admin key of `wattproof start`: kept in a file readable by its owner only (mode
 * 0600) in the data directory, created on the first start and reused while it is valid. A key
 * that was revoked, expired or expires within LOCAL_ADMIN_KEY_RENEW_DAYS is replaced by a new one.
 * `wattproof start` (and `wattproof api`, when the file holds a valid admin key) prints the
 * console's address with the key in the URL fragment (consoleSignInUrl): browsers never send a
 * fragment to the server, and the console removes it from the address bar once read.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AccessControl } from './access-control.js';

/** A local key expiring within this many days is replaced at start. */
export const LOCAL_ADMIN_KEY_RENEW_DAYS = 7;
/** Label of the local admin key in `wattproof apikey list`. */
export const LOCAL_ADMIN_KEY_LABEL = 'local admin key of wattproof start';

export interface LocalAdminKey {
  readonly path: string;
  readonly keyId: string;
  /** The whole key (`wp_…`), for the console sign-in address; never logged. */
  readonly key: string;
  /** True when this call created the key (and wrote the file). */
  readonly created: boolean;
  /** Epoch ms. */
  readonly expiresAtMs?: number;
}

/** Reads the key in `path` when it is a valid admin key with time left; else creates one and writes it there (0600). */
export async function ensureLocalAdminKey(access: AccessControl, path: string): Promise<LocalAdminKey> {
  const existing = await readFile(path, 'utf8').then((t) => t.trim(), () => undefined);
  if (existing) {
    const r = await access.checkKey(existing);
    const renewAt = access.clock() + LOCAL_ADMIN_KEY_RENEW_DAYS * 86_400_000;
    if (r.ok && r.identity.role === 'admin' && (r.identity.expiresAtMs === undefined || r.identity.expiresAtMs > renewAt)) {
      await chmod(path, 0o600);
      return { path, keyId: r.identity.keyId, key: existing, created: false, ...(r.identity.expiresAtMs !== undefined ? { expiresAtMs: r.identity.expiresAtMs } : {}) };
    }
  }
  const { key, info } = await access.createKey({ role: 'admin', label: LOCAL_ADMIN_KEY_LABEL, createdBy: 'wattproof start' });
  await mkdir(dirname(path), { recursive: true });
  // Written beside and renamed: the file never holds half a key, and is 0600 from its first byte.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${key}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return { path, keyId: info.keyId, key, created: true, ...(info.expiresAtMs !== undefined ? { expiresAtMs: info.expiresAtMs } : {}) };
}

/**
 * The admin key in `path` when the file holds one that is valid now (not revoked, not expired);
 * undefined otherwise. Creates nothing (for `wattproof api`, which leaves key creation to
 * `wattproof apikey add`).
 */
export async function readLocalAdminKey(access: AccessControl, path: string): Promise<LocalAdminKey | undefined> {
  const key = await readFile(path, 'utf8').then((t) => t.trim(), () => undefined);
  if (!key) return undefined;
  const r = await access.checkKey(key);
  if (!r.ok || r.identity.role !== 'admin') return undefined;
  return { path, keyId: r.identity.keyId, key, created: false, ...(r.identity.expiresAtMs !== undefined ? { expiresAtMs: r.identity.expiresAtMs } : {}) };
}

/**
 * The console's address that signs in with `key`: `<base>/#key=<key>`. The key rides in the
 * fragment, which browsers never send (so it stays out of server and proxy logs); the console
 * moves it to sessionStorage and removes it from the address bar. Treat the address like the key.
 */
export function consoleSignInUrl(base: string, key: string): string {
  return `${base.replace(/\/+$/, '')}/#key=${encodeURIComponent(key)}`;
}
