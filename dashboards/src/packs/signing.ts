/**
 * Ed25519 signatures of report packs (node:crypto, RFC 8032): key generation, loading, the key
 * fingerprint and the signature over the canonical JSON of a pack without its `signature`.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '@wattproof/analytics';
import { packError } from './errors.js';

/** File names `wattproof report keygen` writes. */
export const PRIVATE_KEY_FILE = 'pack-signing-key.pem';
export const PUBLIC_KEY_FILE = 'pack-signing-key.pub.pem';

/** What signs packs: the private key and the public key with its fingerprint. */
export interface PackSigner {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM of the public key, embedded in every pack. */
  readonly publicKeyPem: string;
  /** `sha256:` + hex sha256 of the DER SubjectPublicKeyInfo. */
  readonly fingerprint: string;
}

/** `sha256:<hex>` of the key's DER SubjectPublicKeyInfo (the same bytes as the PEM body). */
export function publicKeyFingerprint(key: KeyObject): string {
  return `sha256:${createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex')}`;
}

function signerOf(privateKey: KeyObject): PackSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw packError('PACK_SIGNING_KEY_INVALID', `the signing key is ${privateKey.asymmetricKeyType ?? 'not asymmetric'}, not Ed25519`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), fingerprint: publicKeyFingerprint(publicKey) };
}

/** A new Ed25519 key pair. */
export function generateSigner(): PackSigner {
  return signerOf(generateKeyPairSync('ed25519').privateKey);
}

/** The private key as PKCS#8 PEM. */
export function privateKeyPem(signer: PackSigner): string {
  return signer.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * Writes a new key pair into `dir`: the private key (PKCS#8 PEM, mode 0600) and the public key
 * (SPKI PEM, 0644). Refuses to overwrite an existing private key unless `force`.
 */
export async function writeKeyPair(dir: string, options: { force?: boolean } = {}): Promise<{ privateKeyPath: string; publicKeyPath: string; fingerprint: string }> {
  const signer = generateSigner();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const privateKeyPath = join(dir, PRIVATE_KEY_FILE);
  const publicKeyPath = join(dir, PUBLIC_KEY_FILE);
  await writeFile(privateKeyPath, privateKeyPem(signer), { mode: 0o600, flag: options.force ? 'w' : 'wx' });
  await writeFile(publicKeyPath, signer.publicKeyPem, { mode: 0o644 });
  return { privateKeyPath, publicKeyPath, fingerprint: signer.fingerprint };
}

/**
 * Loads the signing key from a PKCS#8 PEM file.
 * @throws WattproofError PACK_SIGNING_KEY_INVALID when it cannot be read or is not Ed25519.
 */
export async function loadSigner(path: string): Promise<PackSigner> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (cause) {
    throw packError('PACK_SIGNING_KEY_INVALID', `cannot read the signing key ${path}: ${(cause as Error).message}`, { cause, details: { path } });
  }
  try {
    return signerOf(createPrivateKey(pem));
  } catch (cause) {
    if ((cause as { code?: string }).code === 'PACK_SIGNING_KEY_INVALID') throw cause;
    throw packError('PACK_SIGNING_KEY_INVALID', `${path} is not a PEM private key: ${(cause as Error).message}`, { cause, details: { path } });
  }
}

/**
 * Parses a public key (SPKI PEM).
 * @throws WattproofError PACK_SIGNING_KEY_INVALID when it is not an Ed25519 public key.
 */
export function parsePublicKey(pem: string, what = 'public key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw packError('PACK_SIGNING_KEY_INVALID', `the ${what} is not a PEM public key: ${(cause as Error).message}`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw packError('PACK_SIGNING_KEY_INVALID', `the ${what} is ${key.asymmetricKeyType}, not Ed25519`);
  return key;
}

/** The bytes a pack's signature covers: its canonical JSON without the `signature` member (UTF-8). */
export function signedBytes(pack: Record<string, unknown>): Buffer {
  const { signature: _omit, ...body } = pack;
  return Buffer.from(canonicalJson(body), 'utf8');
}

/** `sha256:` + hex sha256 of the signed bytes. */
export function packDigest(pack: Record<string, unknown>): string {
  return `sha256:${createHash('sha256').update(signedBytes(pack)).digest('hex')}`;
}

/** The detached Ed25519 signature (base64) of the signed bytes. */
export function signBytes(bytes: Buffer, signer: PackSigner): string {
  return sign(null, bytes, signer.privateKey).toString('base64');
}

/** True when `signature` (base64) is a valid Ed25519 signature of `bytes` by `key`. */
export function verifyBytes(bytes: Buffer, signature: string, key: KeyObject): boolean {
  try {
    return verify(null, bytes, key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}
