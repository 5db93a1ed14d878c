/** Verifiable report packs: signed JSON with every figure and the Merkle roots of the readings used, HTML/PDF, CSV/Parquet export, verification. */
export * from './errors.js';
export * from './config.js';
export * from './types.js';
export * from './merkle.js';
export * from './signing.js';
export * from './quality.js';
export * from './build.js';
export * from './finance.js';
export * from './export.js';
export * from './verify.js';
export * from './verify-finance.js';
export * from './html.js';
export * from './files.js';
export * from './plugin.js';
