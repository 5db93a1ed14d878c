/** The web console: its fastify plugin, data functions, live stream and bundle. */
export * from './plugin.js';
export * from './config.js';
export * from './errors.js';
export * from './data.js';
export * from './stream.js';
export * from './bundle.js';
export * from './csv.js';
export * from './whoami.js';
