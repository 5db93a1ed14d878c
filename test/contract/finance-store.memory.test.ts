import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { describeFinanceStore } from './finance-store.js';

describeFinanceStore('memory', () => createMemoryRegistryStore(), { sharedAcrossInstances: false });
