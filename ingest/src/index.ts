export * from './config.js';
export * from './errors.js';
export * from './ingest.js';
export * from './mqtt-consumer.js';
export * from './normalize.js';
export * from './pipeline.js';
export * from './stores/index.js';
