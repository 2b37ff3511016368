/** The BigBiGAN research kit: what notebooks and scripts import. */
export * from './backend';
export * from './rng';
export * from './classifier';
export * from './data';
export { registerWasmConvGradients } from './kernels/wasm_conv2d_grads';
