import { describe, expect, it } from 'vitest';
import { generateSecret, hashSecret, issueSecret, verifySecret } from '@wattproof/core';

// Cheap scrypt parameters: the tests check the format and the comparison, not the cost.
const FAST_SCRYPT = { N: 1024, r: 8, p: 1, keyLength: 32 } as const;

describe('generated secrets (issueSecret)', () => {
  it('are 32 CSPRNG bytes, stored as a salted SHA-256 that verifies them and nothing else', async () => {
    const { secret, secretHash } = issueSecret();
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(secretHash).toMatch(/^sha256\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(secretHash).not.toContain(secret);
    expect(await verifySecret(secret, secretHash)).toBe(true);
    expect(await verifySecret(`${secret}x`, secretHash)).toBe(false);
    expect(await verifySecret(secret.slice(0, -1), secretHash)).toBe(false);
    expect(await verifySecret(generateSecret(), secretHash)).toBe(false);
  });

  it('get a fresh salt each time: two hashes of one secret differ, and a hash does not carry over to another secret', async () => {
    const a = issueSecret();
    const b = issueSecret();
    expect(a.secret).not.toBe(b.secret);
    expect(a.secretHash.split('$')[1]).not.toBe(b.secretHash.split('$')[1]);
    expect(await verifySecret(a.secret, b.secretHash)).toBe(false);
    expect(await verifySecret(b.secret, a.secretHash)).toBe(false);
  });

  it('never match a tampered or malformed hash', async () => {
    const { secret, secretHash } = issueSecret();
    const [, salt, digest] = secretHash.split('$') as [string, string, string];
    const flip = (s: string) => `${s[0] === 'A' ? 'B' : 'A'}${s.slice(1)}`;
    for (const bad of [
      `sha256$${flip(salt)}$${digest}`,
      `sha256$${salt}$${flip(digest)}`,
      `sha256$${salt}$${digest.slice(0, -2)}`, // 31 bytes
      `sha256$${salt.slice(0, 8)}$${digest}`, // salt under 16 bytes
      `sha256$${salt}`,
      `sha256$${salt}$${digest}$extra`,
      `SHA256$${salt}$${digest}`,
      '',
      'sha256$$',
    ]) {
      expect(await verifySecret(secret, bad), bad).toBe(false);
    }
  });
});

describe('supplied secrets (hashSecret) and hashes written before generated secrets were SHA-256', () => {
  it('are scrypt hashes, and verify', async () => {
    const stored = await hashSecret('an-operator-chosen-secret', FAST_SCRYPT);
    expect(stored).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await verifySecret('an-operator-chosen-secret', stored)).toBe(true);
    expect(await verifySecret('an-operator-chosen-secreT', stored)).toBe(false);
  });

  it('keep the default cost parameters (N = 2^14)', async () => {
    const stored = await hashSecret('x'.repeat(16));
    expect(stored.split('$').slice(0, 4)).toEqual(['scrypt', '16384', '8', '1']);
    expect(await verifySecret('x'.repeat(16), stored)).toBe(true);
  });

  it('never match when malformed', async () => {
    const stored = await hashSecret('s3cret-s3cret-s3', FAST_SCRYPT);
    const parts = stored.split('$');
    expect(await verifySecret('s3cret-s3cret-s3', parts.slice(0, 5).join('$'))).toBe(false);
    expect(await verifySecret('s3cret-s3cret-s3', ['scrypt', 'x', ...parts.slice(2)].join('$'))).toBe(false);
    expect(await verifySecret('s3cret-s3cret-s3', ['scrypt', String(1 << 21), ...parts.slice(2)].join('$'))).toBe(false);
    expect(await verifySecret('s3cret-s3cret-s3', [...parts.slice(0, 5), parts[5]!.slice(0, 10)].join('$'))).toBe(false);
  });
});
