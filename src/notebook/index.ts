/**
 * Helpers for the tslab notebooks (notebooks/): offline plotly charts, danfo
 * tables, pictures, metrics.jsonl series, shared training runs, the paper's
 * ablation table. Notebooks only: the kit's training path never imports this
 * folder (danfojs-node and plotly.js stay out of it).
 */
export * from './env';
export * from './plotly';
export * from './metrics';
export * from './curves';
export * from './tables';
export * from './images';
export * from './runs';
export * from './params';
export * from './ablations';
export * from './latent';
export * from './representation';
