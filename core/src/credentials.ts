/**
 * Device and service secrets, stored only as hashes and verified in constant time.
 *
 * A secret Wattproof generates (`issueSecret`: 32 bytes from the CSPRNG, 256 bits) is stored as
 * a salted SHA-256 (`sha256$salt$digest`, base64url). A slow password hash buys nothing for such a
 * secret: nobody can guess 2^256 candidates however fast each one is, so a stolen registry gives
 * no secret away either way — the reason API keys are stored the same way (docs/access.md), and
 * NIST SP 800-63B's rule for look-up secrets of at least 112 bits (§5.1.2.2: an approved one-way
 * function; a salted key-derivation function only below that). It is what makes logins cheap:
 * scrypt cost the gateway 38-39 ms of CPU per first CONNECT of a device, so 1,000 devices took
 * 16-20 s to log in where Mosquitto took 0.4 s, and a node's devices moving to another node
 * after it died re-logged in at about 20-60 per second (docs/PERFORMANCE.md, "Logins with generated secrets stored as salted SHA-256").
 *
 * A secret an operator supplies (`wattproof device add-service --secret-env`) may have little
 * entropy, so `hashSecret` keeps scrypt (`scrypt$N$r$p$salt$hash`) for it, and hashes written
 * before this change stay valid: `verifySecret` takes both forms.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** scrypt cost parameters (N = 2^14, r = 8, p = 1: ~16 MiB, tens of ms per hash on this class of machine). */
export const DEFAULT_SCRYPT = { N: 16384, r: 8, p: 1, keyLength: 32 } as const;

/** Bytes of CSPRNG output in a generated secret. */
const SECRET_BYTES = 32;
/** Separates these digests from any other SHA-256 of the same bytes (API keys have their own tag). */
const DIGEST_DOMAIN = 'wattproof-principal-secret-v1';

/** A new random secret: 32 bytes as base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** A generated secret's digest: SHA-256 over the domain tag, the salt and the secret. */
function digestOf(salt: Buffer, secret: string): Buffer {
  return createHash('sha256').update(DIGEST_DOMAIN).update('\0').update(salt).update('\0').update(secret, 'utf8').digest();
}

/**
 * A new random secret (generateSecret) and the form to store: a salted SHA-256, which only a
 * generated secret may have (see the module comment). The secret is shown once; only the hash is kept.
 */
export function issueSecret(): { secret: string; secretHash: string } {
  const secret = generateSecret();
  const salt = randomBytes(16);
  return { secret, secretHash: ['sha256', salt.toString('base64url'), digestOf(salt, secret).toString('base64url')].join('$') };
}

/** The stored form of a secret Wattproof did not generate: scrypt, slow on purpose. */
export async function hashSecret(secret: string, params: { N: number; r: number; p: number; keyLength: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, params.keyLength, { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** True when `secret` matches the stored hash (either form). Malformed hashes never match. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts[0] === 'sha256') {
    if (parts.length !== 3) return false;
    const salt = Buffer.from(parts[1]!, 'base64url');
    const expected = Buffer.from(parts[2]!, 'base64url');
    if (salt.length < 16 || expected.length !== 32) return false;
    return timingSafeEqual(digestOf(salt, secret), expected);
  }
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
