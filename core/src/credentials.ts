/**
 * Device and service secrets: generated with crypto.randomBytes, stored only as scrypt hashes
 * (`scrypt$N$r$p$salt$hash`, base64url), verified in constant time.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** scrypt cost parameters (N = 2^14, r = 8, p = 1: ~16 MiB, tens of ms per hash on this class of machine). */
export const DEFAULT_SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 } as const;

/** A new random secret: 32 bytes as base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url');
}

export async function hashSecret(secret: string, params: { N: number; r: number; p: number; keyLength: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, params.keyLength, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `secret` matches the stored hash. Malformed hashes never match. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const N = Number(n);
  const R = Number(r);
  const P = Number(p);
  if (![N, R, P].every((x) => Number.isInteger(x) && x > 0) || N > 1 << 20) return false;
  const expected = Buffer.from(keyB64, 'base64url');
  if (expected.length < 16) return false;
  const key = await scrypt(secret, Buffer.from(saltB64, 'base64url'), expected.length, { N, r: R, p: P, maxmem: 256 * N * R });
  return timingSafeEqual(key, expected);
}
