// Analysis and plots for run logs: loading (JSONL/Parquet, ours or TRL's), danfo frames, statistics, plotly
// figures, notebook display, static export, the rollout viewer, progress bars and the `igrpo report` builder.
export * from './load.js';
export * from './rows.js';
export { evalsFromRows, jsonlRows, metricsFromRows, parquetRows, rolloutsFromRows } from './log-text.js';
export * from './trl.js';
export * from './verl.js';
export * from './verl-file.js';
export * from './parquet.js';
export * from './flat.js';
export * from './frames.js';
export * from './stats.js';
export * from './labels.js';
export * from './figures.js';
export * from './diagnostics.js';
export * from './diagnostics-figures.js';
export * from './display.js';
export * from './export.js';
export * from './progress.js';
export * from './diff.js';
export * from './viewer.js';
export * from './show-rollout.js';
export * from './report.js';
export * from './synthetic.js';
export * from './notebook.js';
