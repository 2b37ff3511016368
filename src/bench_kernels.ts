/**
 * `bigbigan bench-kernels`: times the wasm conv2d gradient kernels of
 * kernels/wasm_conv2d_grads.ts against the forward conv of the same shape and
 * against tfjs-wasm's own Conv2DBackpropInput, on bench32-like shapes.
 * Prints one JSON line per shape (milliseconds per call, mean of `iters`).
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './backend';
import { replacedWasmKernels } from './kernels/wasm_conv2d_grads';

/** [batch, side, in channels, out channels, stride] */
const SHAPES: Array<[number, number, number, number, number]> = [
  [64, 32, 1, 16, 1], [64, 32, 16, 32, 1], [64, 16, 64, 64, 1], [64, 8, 128, 128, 1], [64, 32, 16, 32, 2], [64, 64, 3, 64, 2],
];

function timeIt(f: () => tf.Tensor, iters: number): number {
  const warm = f();
  warm.dataSync();
  warm.dispose();
  const start = performance.now();
  for (let i = 0; i < iters; i++) {
    const r = f();
    r.dataSync();
    r.dispose();
  }
  return (performance.now() - start) / iters;
}

export async function benchKernels(iters = 5): Promise<Array<Record<string, number | string>>> {
  await selectBackend({ force: 'wasm' });  // registers ours
  const ours = tf.getKernel('Conv2DBackpropInput', 'wasm');
  const stock = replacedWasmKernels.get('Conv2DBackpropInput');
  if (stock === undefined) throw new Error(`Expected tfjs-wasm's own Conv2DBackpropInput to have been kept, but it was not`);
  const rows: Array<Record<string, number | string>> = [];
  for (const [b, side, ci, co, stride] of SHAPES) {
    const out = Math.ceil(side / stride);
    const x = tf.randomUniform([b, side, side, ci]) as tf.Tensor4D;
    const w = tf.randomUniform([3, 3, ci, co]) as tf.Tensor4D;
    const dy = tf.randomUniform([b, out, out, co]) as tf.Tensor4D;
    const row: Record<string, number | string> = { shape: `x ${b}x${side}x${side}x${ci}, W 3x3x${ci}x${co}, stride ${stride}`, gflop: +(2 * b * out * out * 9 * ci * co / 1e9).toFixed(3) };
    row.forward_ms = timeIt(() => tf.conv2d(x, w, stride, 'same'), iters);
    row.backprop_filter_ms = timeIt(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
      { strides: stride, pad: 'same', filterShape: [3, 3, ci, co], dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap) as tf.Tensor, iters);
    row.backprop_input_ms = timeIt(() => tf.conv2dTranspose(dy, w, [b, side, side, ci], stride, 'same'), iters);
    // tfjs-wasm's own kernel, restored for the comparison, then ours again.
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel(stock);
    row.backprop_input_tfjs_ms = timeIt(() => tf.conv2dTranspose(dy, w, [b, side, side, ci], stride, 'same'), Math.min(iters, 2));
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
    tf.registerKernel(ours);
    for (const k of Object.keys(row)) if (typeof row[k] === 'number' && k.endsWith('_ms')) row[k] = +(row[k] as number).toFixed(1);
    rows.push(row);
    tf.dispose([x, w, dy]);
  }
  return rows;
}

