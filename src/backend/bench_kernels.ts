/**
 * `bigbigan bench-kernels`: times the kit's wasm kernels against tfjs-wasm's
 * own, on bench32's shapes. Prints one JSON line per case (milliseconds per
 * call, mean of `iters` after one warm-up call):
 *
 * - the conv2d gradients of kernels/wasm_conv2d_grads.ts against the forward
 *   conv of the same shape and tfjs-wasm's own Conv2DBackpropInput (it has no
 *   Conv2DBackpropFilter);
 * - each kernel of kernels/wasm_fast_kernels.ts (ours_ms) against the
 *   tfjs-wasm kernel it replaced (tfjs_ms), on fresh inputs every call (cached
 *   XNNPACK operators would otherwise flatter products with a fixed operand).
 */
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from './select';
import { replacedWasmKernels } from './kernels/wasm_util';

/** [batch, side, in channels, out channels, stride] */
const SHAPES: Array<[number, number, number, number, number]> = [
  [64, 32, 1, 16, 1], [64, 32, 16, 32, 1], [64, 16, 64, 64, 1], [64, 8, 128, 128, 1], [64, 32, 16, 32, 2], [64, 64, 3, 64, 2],
];

/** Mean ms of `iters` calls of f on inputs made fresh for each call by `make` (not timed). */
function timeIt<T extends tf.Tensor | tf.Tensor[]>(f: (inputs: T) => tf.Tensor, iters: number,
                                                   make: () => T = () => [] as unknown as T): number {
  let total = 0;
  for (let i = 0; i <= iters; i++) {
    const inputs = make();
    const start = performance.now();
    const r = f(inputs);
    r.dataSync();
    if (i > 0) total += performance.now() - start;  // call 0 warms up
    tf.dispose([r, inputs as tf.Tensor | tf.Tensor[]]);
  }
  return total / iters;
}

/** Runs f with tfjs-wasm's own kernel `name` registered instead of ours, then ours again. */
function withStockKernel<T>(name: string, f: () => T): T {
  const ours = tf.getKernel(name, 'wasm'), stock = replacedWasmKernels.get(name);
  if (ours === undefined || stock === undefined) throw new Error(`Expected tfjs-wasm's own ${name} to have been kept, but it was not`);
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel(stock);
  try {
    return f();
  } finally {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(ours);
  }
}

const round1 = (row: Record<string, number | string>) => {
  for (const k of Object.keys(row)) if (typeof row[k] === 'number' && k.endsWith('_ms')) row[k] = +(row[k] as number).toFixed(1);
  return row;
};

function convRows(iters: number): Array<Record<string, number | string>> {
  return SHAPES.map(([b, side, ci, co, stride]) => {
    const out = Math.ceil(side / stride);
    const x = tf.randomUniform([b, side, side, ci]) as tf.Tensor4D;
    const w = tf.randomUniform([3, 3, ci, co]) as tf.Tensor4D;
    const dy = tf.randomUniform([b, out, out, co]) as tf.Tensor4D;
    const row: Record<string, number | string> = {
      shape: `x ${b}x${side}x${side}x${ci}, W 3x3x${ci}x${co}, stride ${stride}`,
      gflop: +(2 * b * out * out * 9 * ci * co / 1e9).toFixed(3),
    };
    const dx = () => tf.conv2dTranspose(dy, w, [b, side, side, ci], stride, 'same');
    row.forward_ms = timeIt(() => tf.conv2d(x, w, stride, 'same'), iters);
    row.backprop_filter_ms = timeIt(() => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
      { strides: stride, pad: 'same', filterShape: [3, 3, ci, co], dataFormat: 'NHWC' } as unknown as tf.NamedAttrMap) as tf.Tensor, iters);
    row.backprop_input_ms = timeIt(dx, iters);
    row.backprop_input_tfjs_ms = withStockKernel('Conv2DBackpropInput', () => timeIt(dx, Math.min(iters, 2)));
    tf.dispose([x, w, dy]);
    return round1(row);
  });
}

/** A case of a fast kernel: its name, what is timed, and the inputs it gets. */
interface FastCase { kernel: string; what: string; make: () => tf.Tensor[]; f: (xs: tf.Tensor[]) => tf.Tensor }

const normal = (...shapes: number[][]) => () => shapes.map((s) => tf.randomNormal(s));
const FAST_CASES: FastCase[] = [
  { kernel: 'Identity', what: 'clone [64,32,32,32]', make: normal([64, 32, 32, 32]), f: ([x]) => tf.clone(x) },
  { kernel: 'BatchMatMul', what: 'linear-layer weight gradient [64,256]ᵀ·[64,256]', make: normal([64, 256], [64, 256]),
    f: ([a, b]) => tf.matMul(a, b, true, false) },
  { kernel: 'BatchMatMul', what: 'attention scores [64,256,8]·[64,64,8]ᵀ', make: normal([64, 256, 8], [64, 64, 8]),
    f: ([a, b]) => tf.matMul(a, b, false, true) },
  { kernel: 'BatchMatMul', what: 'attention output [64,256,64]·[64,64,16]', make: normal([64, 256, 64], [64, 64, 16]),
    f: ([a, b]) => tf.matMul(a, b) },
  { kernel: 'Sum', what: 'bias gradient [64,32,32,16] over 0,1,2', make: normal([64, 32, 32, 16]), f: ([x]) => tf.sum(x, [0, 1, 2]) },
  { kernel: 'Sum', what: 'gain gradient [64,16,16,64] over 1,2', make: normal([64, 16, 16, 64]), f: ([x]) => tf.sum(x, [1, 2]) },
  { kernel: 'Mean', what: 'batch-norm mean [64,32,32,32] over 0,1,2', make: normal([64, 32, 32, 32]), f: ([x]) => tf.mean(x, [0, 1, 2]) },
  { kernel: 'ResizeNearestNeighbor', what: 'upsample [64,16,16,32] -> 32x32', make: normal([64, 16, 16, 32]),
    f: ([x]) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [32, 32]) },
  { kernel: 'ResizeNearestNeighborGrad', what: 'its gradient', make: normal([64, 16, 16, 32], [64, 32, 32, 32]),
    f: ([x, dy]) => tf.engine().runKernel('ResizeNearestNeighborGrad', { images: x, dy },
                                          { alignCorners: false, halfPixelCenters: false }) as tf.Tensor },
  { kernel: 'AvgPoolGrad', what: '2x2 pool gradient [64,32,32,32]', make: normal([64, 32, 32, 32], [64, 16, 16, 32]),
    f: ([x, dy]) => tf.engine().runKernel('AvgPoolGrad', { dy, input: x }, { filterSize: 2, strides: 2, pad: 'valid' }) as tf.Tensor },
];

function fastRows(iters: number): Array<Record<string, number | string>> {
  return FAST_CASES.map(({ kernel, what, make, f }) => round1({
    kernel, case: what,
    ours_ms: timeIt(f, iters, make),
    tfjs_ms: withStockKernel(kernel, () => timeIt(f, iters, make)),
  }));
}

/** Conv gradient rows, then one row per fast-kernel case. */
export async function benchKernels(iters = 5): Promise<Array<Record<string, number | string>>> {
  // The kit's wasm kernels, unless BIGBIGAN_NATIVE=1 asks for the native ones that replace them where built.
  if (process.env.BIGBIGAN_NATIVE === undefined) process.env.BIGBIGAN_NATIVE = '0';
  await selectBackend({ force: 'wasm' });  // registers ours
  return [...convRows(iters), ...fastRows(iters)];
}
