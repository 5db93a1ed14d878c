/**
 * The local admin key of `wattproof start`: kept in a file readable by its owner only (mode
 * 0600) in the data directory, created on the first start and reused while it is valid, so the
 * console user finds it there instead of in the terminal scroll-back. A key that was revoked,
 * expired or expires within LOCAL_ADMIN_KEY_RENEW_DAYS is replaced by a new one.
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
      return { path, keyId: r.identity.keyId, created: false, ...(r.identity.expiresAtMs !== undefined ? { expiresAtMs: r.identity.expiresAtMs } : {}) };
    }
  }
  const { key, info } = await access.createKey({ role: 'admin', label: LOCAL_ADMIN_KEY_LABEL, createdBy: 'wattproof start' });
  await mkdir(dirname(path), { recursive: true });
  // Written beside and renamed: the file never holds half a key, and is 0600 from its first byte.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${key}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return { path, keyId: info.keyId, created: true, ...(info.expiresAtMs !== undefined ? { expiresAtMs: info.expiresAtMs } : {}) };
}
