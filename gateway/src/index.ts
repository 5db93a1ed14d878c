export * from './acl.js';
export * from './config.js';
export * from './devices.js';
export * from './errors.js';
export * from './gateway.js';
export * from './metrics.js';
export * from './auth-limiter.js';
