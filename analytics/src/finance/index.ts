/** Finance calculations on verified savings: covenants, insurance, PCAF financed emissions. */
export * from './errors.js';
export * from './random.js';
export * from './lineage.js';
export * from './reference.js';
export * from './covenants.js';
export * from './kpi-observations.js';
export * from './insurance.js';
export * from './pcaf.js';
export * from './service.js';
