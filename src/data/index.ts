/** The kit's datasets: loaders, the Split / Dataset interface and the batch iterator. */
export * from './errors';
export * from './dataset';
export * from './transform';
export * from './batches';
export * from './idx';
export * from './cifar';
export * from './imagefolder';
export * from './registry';
