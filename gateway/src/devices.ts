/** Provisioning of device and service credentials: the secret is returned once and stored only hashed. */
import { gatewayError } from './errors.js';
import { generateSecret, hashSecret, isValidId, meterKey, parseMeterKey, type MeterRef, type PrincipalRole, type Quantity, type RegistryStore } from '@wattproof/core';

export interface ProvisionedCredentials {
  readonly username: string;
  /** Shown once; only its scrypt hash is stored. */
  readonly secret: string;
  readonly rotated: boolean;
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
  const secret = options.secret ?? generateSecret();
  await registry.putPrincipal({ username, role: 'device', meter, secretHash: await hashSecret(secret), createdAtMs: options.nowMs ?? Date.now() });
  return { username, secret, rotated: Boolean(existing) };
}

/** Creates (or rotates) a service or operator principal, e.g. the ingest's MQTT login. */
export async function provisionService(
  registry: RegistryStore,
  username: string,
  role: Exclude<PrincipalRole, 'device'>,
  options: { secret?: string; nowMs?: number } = {},
): Promise<ProvisionedCredentials> {
  if (!isValidId(username)) throw gatewayError('DEVICE_ID_INVALID', `service name "${username}" must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}`);
  const existing = await registry.getPrincipal(username);
  const secret = options.secret ?? generateSecret();
  await registry.putPrincipal({ username, role, secretHash: await hashSecret(secret), createdAtMs: options.nowMs ?? Date.now() });
  return { username, secret, rotated: Boolean(existing) };
}
