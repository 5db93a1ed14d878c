/**
 * API keys for tests: every route but the open ones needs one (docs/access.md), so a test makes a
 * real key in the registry its server reads — never by turning authentication off.
 *
 * - `createTestKey(registry, spec?)`: an admin key unless `spec` says otherwise, valid until
 *   2100 whatever clock the server runs on;
 * - `keyedInject(app, key)`: `app.inject` that sends the key (`Authorization: Bearer`);
 * - `keyedFetch(key)`: `fetch` that sends it;
 * - `readLocalAdminKey(dataDir)`: the local admin key `wattproof start` keeps in the data directory.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { RegistryStore } from '@wattproof/core';
import { createAccessControl, LOCAL_ADMIN_KEY_FILE, type ApiKeySpec } from '@wattproof/dashboards';

/** Expiry of test keys: far beyond any test clock. */
export const TEST_KEY_EXPIRES_AT_MS = Date.parse('2100-01-01T00:00:00Z');

/** Creates a key in `registry` (admin unless `spec.role` says otherwise) and returns it (`wp_…`). */
export async function createTestKey(registry: RegistryStore, spec: Partial<ApiKeySpec> = {}): Promise<string> {
  const access = createAccessControl({ registry });
  const { key } = await access.createKey({ role: 'admin', label: 'test key', createdBy: 'test', expiresAtMs: TEST_KEY_EXPIRES_AT_MS, ...spec });
  return key;
}

/** The header that carries `key`. */
export const bearer = (key: string): { authorization: string } => ({ authorization: `Bearer ${key}` });

/** `app.inject` with the key in the Authorization header (headers given in `opts` are kept). */
export function keyedInject(app: FastifyInstance, key: string): (opts: InjectOptions | string) => Promise<LightMyRequestResponse> {
  return (opts) => {
    const o: InjectOptions = typeof opts === 'string' ? { url: opts } : opts;
    return app.inject({ ...o, headers: { ...bearer(key), ...(o.headers ?? {}) } });
  };
}

/** `fetch` with the key in the Authorization header. */
export function keyedFetch(key: string): (url: string, init?: RequestInit) => Promise<Response> {
  return (url, init = {}) => fetch(url, { ...init, headers: { ...bearer(key), ...((init.headers as Record<string, string> | undefined) ?? {}) } });
}

/** The local admin key `wattproof start` wrote to `<dataDir>/api-admin.key`. */
export async function readLocalAdminKey(dataDir: string): Promise<string> {
  return (await readFile(join(dataDir, LOCAL_ADMIN_KEY_FILE), 'utf8')).trim();
}
