export * from './config.js';
export * from './errors.js';
export * from './auth-failures.js';
export * from './plugin.js';
