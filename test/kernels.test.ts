/**
 * The kit's JS conv2d gradient kernels for wasm (src/backend/kernels/wasm_conv2d_grads.ts)
 * against tfjs's pure-JS `cpu` backend, over the cases of conv_cases.ts; then a
 * check that they free every buffer. The native oneDNN kernels, which replace
 * them where built, are switched off here (kernels_native.test.ts checks those).
 */
import { before, describe, test } from 'node:test';
import { selectBackend } from '../src/backend/select';
import { assertConvLeavesNothing, assertConvMatchesCpu, convCaseName, CONV_CASES } from './conv_cases';

describe('the wasm conv2d gradients of the kit match the cpu backend', () => {
  before(async () => {
    process.env.BIGBIGAN_NATIVE = '0';
    await selectBackend({ force: 'wasm', quiet: true });
  });

  for (const c of CONV_CASES) test(convCaseName(c), () => assertConvMatchesCpu(c));

  test('they leave no tensor and no wasm buffer behind', assertConvLeavesNothing);
});
