/** The gateway's session-store and backlog keys, as `wattproof gateway` reads them from the environment. */
import { describe, expect, it } from 'vitest';
import { hasCode, loadConfig } from '@wattproof/core';
import { DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_QUEUED_MESSAGES, DEFAULT_PERSISTENCE_SYNC, gatewayConfigSchema } from '@wattproof/gateway';

describe('gateway config: session store and backlog bound', () => {
  it('keeps sessions in memory, fsyncs and bounds each session at 500,000 messages and 1 GiB of payload by default', () => {
    const config = loadConfig(gatewayConfigSchema, {});
    expect(config.GATEWAY_PERSISTENCE_DIR).toBeUndefined();
    expect(config.GATEWAY_PERSISTENCE_SYNC).toBe(true);
    expect(DEFAULT_PERSISTENCE_SYNC).toBe(true);
    expect(config.GATEWAY_MAX_QUEUED_MESSAGES).toBe(500_000);
    expect(DEFAULT_MAX_QUEUED_MESSAGES).toBe(500_000);
    expect(config.GATEWAY_MAX_QUEUED_BYTES).toBe(2 ** 30);
    expect(DEFAULT_MAX_QUEUED_BYTES).toBe(2 ** 30);
  });

  it('reads the directory, the fsync switch and the bound from the environment', () => {
    const config = loadConfig(gatewayConfigSchema, { GATEWAY_PERSISTENCE_DIR: '/var/lib/wattproof/gateway', GATEWAY_PERSISTENCE_SYNC: 'false', GATEWAY_MAX_QUEUED_MESSAGES: '20000', GATEWAY_MAX_QUEUED_BYTES: '65536' });
    expect(config.GATEWAY_PERSISTENCE_DIR).toBe('/var/lib/wattproof/gateway');
    expect(config.GATEWAY_PERSISTENCE_SYNC).toBe(false);
    expect(config.GATEWAY_MAX_QUEUED_MESSAGES).toBe(20_000);
    expect(config.GATEWAY_MAX_QUEUED_BYTES).toBe(65_536);
  });

  it('treats an empty GATEWAY_PERSISTENCE_DIR as unset (sessions in memory)', () => {
    expect(loadConfig(gatewayConfigSchema, { GATEWAY_PERSISTENCE_DIR: '' }).GATEWAY_PERSISTENCE_DIR).toBeUndefined();
  });

  it('refuses a bound below 1, a fractional bound and a fsync switch that is not a boolean, naming every key', () => {
    let err: unknown;
    try {
      loadConfig(gatewayConfigSchema, { GATEWAY_MAX_QUEUED_MESSAGES: '0', GATEWAY_PERSISTENCE_SYNC: 'sometimes' });
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'CONFIG_INVALID')).toBe(true);
    expect(String((err as Error).message)).toContain('GATEWAY_MAX_QUEUED_MESSAGES');
    expect(String((err as Error).message)).toContain('GATEWAY_PERSISTENCE_SYNC');
    expect(() => loadConfig(gatewayConfigSchema, { GATEWAY_MAX_QUEUED_MESSAGES: '1.5' })).toThrow(/GATEWAY_MAX_QUEUED_MESSAGES/);
    // Below one kilobyte a byte bound would refuse every reading message after the first.
    expect(() => loadConfig(gatewayConfigSchema, { GATEWAY_MAX_QUEUED_BYTES: '1000' })).toThrow(/GATEWAY_MAX_QUEUED_BYTES/);
  });

  it('documents each key with its unit or default', () => {
    for (const key of ['GATEWAY_PERSISTENCE_DIR', 'GATEWAY_PERSISTENCE_SYNC', 'GATEWAY_MAX_QUEUED_MESSAGES', 'GATEWAY_MAX_QUEUED_BYTES'] as const) {
      expect(gatewayConfigSchema.shape[key].description, key).toMatch(/.{80,}/);
    }
  });
});
