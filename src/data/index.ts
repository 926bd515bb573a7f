// Problems: the schema, loaders for files and public benchmarks, splits, and synthetic tasks.
export * from './schema.js';
export * from './adapters.js';
export * from './loaders.js';
export * from './split.js';
export * from './synthetic/index.js';
