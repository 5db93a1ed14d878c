/** Provisioning of device and service credentials: the secret is returned once and stored only hashed. */
import { gatewayError } from './errors.js';
import { hashSecret, isValidId, issueSecret, meterKey, parseMeterKey, type MeterRef, type PrincipalRole, type Quantity, type RegistryStore } from '@wattproof/core';

export interface ProvisionedCredentials {
  readonly username: string;
  /** Shown once; only its hash is stored (core/src/credentials.ts). */
  readonly secret: string;
  readonly rotated: boolean;
}

/**
 * A secret and its stored hash: a new generated one (salted SHA-256, cheap to verify at every
 * first CONNECT), or the one the caller supplies, whose entropy is unknown (scrypt).
 */
async function secretFor(supplied: string | undefined): Promise<{ secret: string; secretHash: string }> {
  return supplied === undefined ? issueSecret() : { secret: supplied, secretHash: await hashSecret(supplied) };
}

/**
 * Creates a device bound to `site/building/meter` (and the meter, if new).
 * @throws WattproofError DEVICE_EXISTS when the device exists and `rotate` is not set.
 */
export async function provisionDevice(
  registry: RegistryStore,
  ref: MeterRef | string,
  options: { rotate?: boolean; quantity?: Quantity; nowMs?: number; secret?: string } = {},
): Promise<ProvisionedCredentials> {
  const meter = typeof ref === 'string' ? parseMeterKey(ref) : ref;
  if (!meter || !isValidId(meter.site) || !isValidId(meter.building) || !isValidId(meter.meter)) {
    throw gatewayError('DEVICE_ID_INVALID', `"${typeof ref === 'string' ? ref : meterKey(ref)}" is not site/building/meter with ids of [A-Za-z0-9_.-] (max 64)`);
  }
  const username = meterKey(meter);
  const existing = await registry.getPrincipal(username);
  if (existing && !options.rotate) {
    throw gatewayError('DEVICE_EXISTS', `device ${username} exists; use --rotate to issue a new secret`);
  }
  if (!(await registry.getMeter(meter))) {
    await registry.upsertMeter({ ...meter, ...(options.quantity ? { quantity: options.quantity } : {}) });
  }
  const { secret, secretHash } = await secretFor(options.secret);
  await registry.putPrincipal({ username, role: 'device', meter, secretHash, createdAtMs: options.nowMs ?? Date.now() });
  return { username, secret, rotated: Boolean(existing) };
}

/** Username of the aggregator of `site`: `aggregator:<site>`, or `aggregator:<site>:<name>` when a site has several. */
export function aggregatorUsername(site: string, name?: string): string {
  // ':' is not allowed in ids, so this can never be a device key or a service name.
  return name === undefined ? `aggregator:${site}` : `aggregator:${site}:${name}`;
}

/**
 * Creates (or rotates) an aggregator: a data concentrator bound to `site` that may publish the
 * readings and status of every meter of that site (and nothing else) over one connection.
 * Meters it reports for need no device of their own; the ingest registers them on first reading.
 * @param options.name - a second, third, ... aggregator of the same site (an id); none for the first.
 * @throws WattproofError DEVICE_ID_INVALID when `site` or `name` is not an id.
 * @throws WattproofError DEVICE_EXISTS when the aggregator exists and `rotate` is not set.
 */
export async function provisionAggregator(
  registry: RegistryStore,
  site: string,
  options: { name?: string; rotate?: boolean; nowMs?: number; secret?: string } = {},
): Promise<ProvisionedCredentials> {
  if (!isValidId(site)) throw gatewayError('DEVICE_ID_INVALID', `site "${site}" must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}`);
  if (options.name !== undefined && !isValidId(options.name)) {
    throw gatewayError('DEVICE_ID_INVALID', `aggregator name "${options.name}" must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}`);
  }
  const username = aggregatorUsername(site, options.name);
  const existing = await registry.getPrincipal(username);
  if (existing && !options.rotate) {
    throw gatewayError('DEVICE_EXISTS', `aggregator ${username} exists; use --rotate to issue a new secret`);
  }
  const { secret, secretHash } = await secretFor(options.secret);
  await registry.putPrincipal({ username, role: 'aggregator', site, secretHash, createdAtMs: options.nowMs ?? Date.now() });
  return { username, secret, rotated: Boolean(existing) };
}

/** Creates (or rotates) a service or operator principal, e.g. the ingest's MQTT login. */
export async function provisionService(
  registry: RegistryStore,
  username: string,
  role: Exclude<PrincipalRole, 'device' | 'aggregator'>,
  options: { secret?: string; nowMs?: number } = {},
): Promise<ProvisionedCredentials> {
  if (!isValidId(username)) throw gatewayError('DEVICE_ID_INVALID', `service name "${username}" must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}`);
  const existing = await registry.getPrincipal(username);
  const { secret, secretHash } = await secretFor(options.secret);
  await registry.putPrincipal({ username, role, secretHash, createdAtMs: options.nowMs ?? Date.now() });
  return { username, secret, rotated: Boolean(existing) };
}
