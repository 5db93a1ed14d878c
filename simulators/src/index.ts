export * from './model.js';
export * from './simulator.js';
