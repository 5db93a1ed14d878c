/** The integrity ledger of stored readings: day seals chained per series, amendments, verification (docs/integrity.md). */
export * from './records.js';
export * from './seal-index.js';
export * from './amendments.js';
export * from './sealer.js';
export * from './verify.js';
