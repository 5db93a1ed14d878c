import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configWith, hasCode, loadConfig } from '@wattproof/core';
import { createMemoryRegistryStore, createRegistryStore, registryConfigSchema, resolveRegistryStoreKind } from '@wattproof/gateway/registry';
import { describeRegistryStore } from './registry-store.js';

describeRegistryStore('memory', () => createMemoryRegistryStore(), { sharedAcrossInstances: false });

describe('createRegistryStore', () => {
  it('picks postgres when REGISTRY_POSTGRES_URL is set, else embedded', () => {
    expect(resolveRegistryStoreKind(loadConfig(registryConfigSchema, {}))).toBe('embedded');
    expect(resolveRegistryStoreKind(loadConfig(registryConfigSchema, { REGISTRY_POSTGRES_URL: 'postgresql://127.0.0.1/x' }))).toBe('postgres');
    expect(resolveRegistryStoreKind(loadConfig(registryConfigSchema, { REGISTRY_STORE: 'embedded', REGISTRY_POSTGRES_URL: 'postgresql://127.0.0.1/x' }))).toBe('embedded');
  });

  it('lists every config problem, including a missing URL for postgres', () => {
    let err: unknown;
    try {
      loadConfig(registryConfigSchema, { REGISTRY_STORE: 'postgres', REGISTRY_POSTGRES_POOL_SIZE: '0' });
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toContain('REGISTRY_POSTGRES_URL');
    expect((err as Error).message).toContain('REGISTRY_POSTGRES_POOL_SIZE');
  });

  it('puts the embedded files in <WATTPROOF_DATA_DIR>/registry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wattproof-registry-config-'));
    try {
      const store = createRegistryStore(configWith(registryConfigSchema, { WATTPROOF_DATA_DIR: dir }));
      expect(store.name).toBe('jsonl');
      await store.init();
      await store.close();
      expect((await stat(join(dir, 'registry', 'registry.jsonl'))).isFile()).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates a memory store', () => {
    expect(createRegistryStore(configWith(registryConfigSchema, { REGISTRY_STORE: 'memory' })).name).toBe('memory');
  });
});
