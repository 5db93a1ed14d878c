import { createMemoryReadingStore } from '@wattproof/ingest/stores';
import { describeReadingStore } from './reading-store.js';

describeReadingStore('memory', () => createMemoryReadingStore());
