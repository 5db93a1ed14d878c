export * from './api/app.js';
export * from './api/errors.js';
export * from './api/schemas.js';
export * from './api/server.js';
export * from './api/mv.js';
export * from './api/alerts.js';
export * from './console/index.js';
export * from './report/index.js';
