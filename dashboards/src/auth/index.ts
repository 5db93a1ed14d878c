/** API keys, roles, the access matrix and the finance audit log (docs/access.md). */
export * from './types.js';
export * from './errors.js';
export * from './config.js';
export * from './keys.js';
export * from './policy.js';
export * from './audit.js';
export * from './access-control.js';
export * from './plugin.js';
export * from './scope.js';
export * from './local-key.js';
