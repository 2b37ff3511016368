/**
 * Faster versions of tfjs-backend-wasm 4.22 kernels that a BigBiGAN training
 * step calls thousands of times, each measured slow on bench32 shapes
 * (`bigbigan bench --profile`, `bigbigan bench-kernels`). Every case a kernel
 * does not speed up falls back to tfjs-wasm's own kernel.
 *
 * - Identity, Cast to the same dtype: tfjs-wasm copies the buffer; the engine
 *   clones every tensor a gradient needs (saveTensorsForBackwardMode), ~4000
 *   copies per E/G step. Here they share it by reference count, as tfjs's cpu
 *   and webgl backends do.
 * - BatchMatMul: tfjs-wasm multiplies with XNNPACK only for an unbatched product
 *   without transposes; transposed operands (every linear layer's gradient)
 *   and batched products (self-attention) run 5-15x slower. Here transposes
 *   are made explicit (one Transpose kernel), a batched A times a shared B is
 *   one unbatched product, and other batched products one product per batch.
 * - Sum, Mean over leading or middle axes (batch-norm statistics, bias
 *   gradients, pooling): tfjs-wasm transposes the reduced axes innermost
 *   first. Here a reduction over a contiguous block of axes is a batched
 *   product with a vector of ones, [outer, red, inner] -> ones[1, red] · x.
 * - ResizeNearestNeighbor(Grad) by a whole factor and AvgPoolGrad with
 *   window = stride and no padding (G's upsampling, D's and E's 2x2 pools):
 *   tfjs-wasm's general kernels took 7-70 ms per call on a [64, 16, 16, 32]
 *   map. Spreading a value over its block is one broadcast Multiply; summing
 *   a block is tfjs-wasm's (fast) AvgPool times the block's size. Plain JS
 *   loops over the heap were measured slower than both.
 */
import * as tf from '@tensorflow/tfjs';
import { callKernel, callStockKernel, filled, KernelArgs, replaceWasmKernel, TensorInfo, view, WasmBackend } from './wasm_util';

/** Identity without a copy: the output shares the input's buffer. */
function identity(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return callStockKernel('Identity', args);
  (args.backend as WasmBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

/** Cast to the dtype a tensor already has is Identity; other casts are tfjs-wasm's. */
function cast(args: KernelArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as tf.CastAttrs;
  return dtype === x.dtype ? identity(args) : callStockKernel('Cast', args);
}

/** The last two axes of x swapped, as a new buffer. */
function transposeLast2(x: TensorInfo, backend: WasmBackend): TensorInfo {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return callKernel('Transpose', { x }, { perm }, backend);
}

/**
 * A[i] · B[i] for each batch i (A or B may have batch 1), one unbatched XNNPACK
 * product per batch on copies of the slices: tfjs-wasm's own batched loop was
 * measured 5-10x slower on self-attention's shapes.
 */
function productPerBatch(a: TensorInfo, b: TensorInfo, batches: number, backend: WasmBackend): TensorInfo {
  const [m, k] = a.shape.slice(-2), n = b.shape[b.shape.length - 1];
  const sizeA = m * k, sizeB = k * n, sizeOut = m * n;
  const out = backend.makeOutput([batches, m, n], 'float32');
  const slice = (x: TensorInfo, shape: number[], i: number, size: number, batched: boolean) => {
    if (!batched) return x;
    const s = backend.makeOutput(shape, 'float32');
    backend.typedArrayFromHeap(s).set(backend.typedArrayFromHeap(x).subarray(i * size, (i + 1) * size));
    return s;
  };
  const batchedA = tf.util.sizeFromShape(a.shape.slice(0, -2)) > 1, batchedB = tf.util.sizeFromShape(b.shape.slice(0, -2)) > 1;
  for (let i = 0; i < batches; i++) {
    const ai = slice(a, [1, m, k], i, sizeA, batchedA), bi = slice(b, [1, k, n], i, sizeB, batchedB);
    const r = callStockKernel('BatchMatMul', { inputs: { a: view(ai, [1, m, k]), b: view(bi, [1, k, n]) }, backend,
                                               attrs: { transposeA: false, transposeB: false } });
    backend.typedArrayFromHeap(out).set(backend.typedArrayFromHeap(r), i * sizeOut);
    for (const t of [r, ...(batchedA ? [ai] : []), ...(batchedB ? [bi] : [])]) backend.disposeData(t.dataId);
  }
  return out;
}

/** XNNPACK packs each batch's B anew: below this many rows of A, packing costs more than tfjs-wasm's loop saves. */
const PER_BATCH_MIN_ROWS = 8;

/**
 * A · B with the transposes done first; a batched A times an unbatched B is
 * one [batch·M, K] · [K, N] product; other batched products are one product
 * per batch. Only unbatched products reach XNNPACK in tfjs-wasm.
 */
function batchMatMul(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  let { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return callStockKernel('BatchMatMul', args);
  const temporaries: TensorInfo[] = [];
  if (transposeA) temporaries.push(a = transposeLast2(a, backend));
  if (transposeB) temporaries.push(b = transposeLast2(b, backend));
  const [m, k] = a.shape.slice(-2), n = b.shape[b.shape.length - 1];
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const sizeA = tf.util.sizeFromShape(batchA), sizeB = tf.util.sizeFromShape(batchB);
  const outShape = [...tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB), m, n];
  let out: TensorInfo;
  if (sizeB === 1) {
    // Every batch of A meets the same B: one product of all A's rows with B.
    out = callStockKernel('BatchMatMul', { inputs: { a: view(a, [1, sizeA * m, k]), b: view(b, [1, k, n]) }, backend,
                                           attrs: { transposeA: false, transposeB: false } });
  } else if ((sizeA === 1 || sizeA === sizeB) && m >= PER_BATCH_MIN_ROWS) {
    out = productPerBatch(a, b, sizeB, backend);
  } else {
    out = callStockKernel('BatchMatMul', { inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } });
  }
  out.shape = outShape;
  for (const t of temporaries) backend.disposeData(t.dataId);
  return out;
}

/** The reduced axes of x as one contiguous block [lo, hi], or null when they are not. */
function contiguousAxes(axis: number | number[], shape: number[]): [number, number] | null {
  const axes = tf.util.parseAxisParam(axis, shape).slice().sort((p, q) => p - q);
  if (axes.length === 0) return null;
  for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[i - 1] + 1) return null;
  return [axes[0], axes[axes.length - 1]];
}

/** Chunks a reduction of `red` rows is split into when nothing else batches it (1: none divides it). */
function chunksOf(red: number): number {
  return [8, 4, 2].find((s) => red % s === 0 && red >= 2 * s) ?? 1;
}

/**
 * Σ (or mean) of x over a contiguous block of axes that is not innermost, as
 * the batched product ones[1, 1, red] · x[outer, red, inner] (tfjs-wasm's
 * batched loop, which packs nothing: XNNPACK would repack all of x as
 * weights). With outer = 1 the rows are split into a few chunks to batch it,
 * and the chunks' sums are added by tfjs-wasm's Sum. Other reductions are
 * tfjs-wasm's, which reduces innermost axes fast and transposes otherwise.
 */
function reduceBy(kernelName: 'Sum' | 'Mean'): (args: KernelArgs) => TensorInfo {
  return (args: KernelArgs): TensorInfo => {
    const backend = args.backend as WasmBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const block = x.dtype === 'float32' ? contiguousAxes(axis, x.shape) : null;
    if (block === null || block[1] === x.shape.length - 1 || tf.util.sizeFromShape(x.shape) === 0) {
      return callStockKernel(kernelName, args);
    }
    const [lo, hi] = block;
    const outer = tf.util.sizeFromShape(x.shape.slice(0, lo));
    const red = tf.util.sizeFromShape(x.shape.slice(lo, hi + 1));
    const inner = tf.util.sizeFromShape(x.shape.slice(hi + 1));
    const chunks = outer === 1 ? chunksOf(red) : 1;
    if (outer === 1 && chunks === 1) return callStockKernel(kernelName, args);
    const ones = filled(backend, [1, 1, red / chunks], 1);
    let out = callStockKernel('BatchMatMul', { inputs: { a: ones, b: view(x, [outer * chunks, red / chunks, inner]) }, backend,
                                               attrs: { transposeA: false, transposeB: false } });  // [outer·chunks, 1, inner]
    backend.disposeData(ones.dataId);
    if (chunks > 1) {
      const partial = out;
      out = callStockKernel('Sum', { inputs: { x: view(partial, [chunks, inner]) }, backend, attrs: { axis: 0, keepDims: false } });
      backend.disposeData(partial.dataId);
    }
    if (kernelName === 'Mean') {
      const values = backend.typedArrayFromHeap(out);
      for (let i = 0; i < values.length; i++) values[i] /= red;
    }
    const kept = x.shape.map((s, i) => (i >= lo && i <= hi ? 1 : s));
    out.shape = keepDims ? kept : kept.filter((_, i) => i < lo || i > hi);
    return out;
  };
}

const sum = reduceBy('Sum'), mean = reduceBy('Mean');

/** Whole factors (fy, fx) of a nearest-neighbour resize of x to `size` in tfjs's default mode, or null. */
function nearestFactors(inShape: number[], size: [number, number], attrs: tf.ResizeNearestNeighborAttrs): [number, number] | null {
  if (attrs.alignCorners || attrs.halfPixelCenters) return null;
  const fy = size[0] / inShape[1], fx = size[1] / inShape[2];
  return Number.isInteger(fy) && Number.isInteger(fx) && fy >= 1 && fx >= 1 ? [fy, fx] : null;
}

/**
 * out[b, i·fy + p, j·fx + q, c] = scale · x[b, i, j, c] for p < fy, q < fx:
 * x [B, H, W, C] -> [B, H·fy, W·fx, C], as one broadcast product of x seen as
 * [B·H, 1, W, 1, C] with a constant [1, fy, 1, fx, 1].
 */
function spreadBlocks(backend: WasmBackend, x: TensorInfo, fy: number, fx: number, scale: number): TensorInfo {
  const [B, H, W, C] = x.shape;
  const c = filled(backend, [1, fy, 1, fx, 1], scale);
  const out = callKernel('Multiply', { a: view(x, [B * H, 1, W, 1, C]), b: c }, {}, backend);
  backend.disposeData(c.dataId);
  out.shape = [B, H * fy, W * fx, C];
  return out;
}

function resizeNearestNeighbor(args: KernelArgs): TensorInfo {
  const { images } = args.inputs as { images: TensorInfo };
  const attrs = args.attrs as unknown as tf.ResizeNearestNeighborAttrs;
  const f = images.dtype === 'float32' ? nearestFactors(images.shape, attrs.size, attrs) : null;
  if (f === null) return callStockKernel('ResizeNearestNeighbor', args);
  return spreadBlocks(args.backend as WasmBackend, images, f[0], f[1], 1);
}

/** The gradient sums each fy x fx block of dy: an average pool of it times fy·fx (exact for powers of 2). */
function resizeNearestNeighborGrad(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { images, dy } = args.inputs as { images: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as tf.ResizeNearestNeighborAttrs;
  const f = dy.dtype === 'float32' ? nearestFactors(images.shape, [dy.shape[1], dy.shape[2]], attrs) : null;
  if (f === null) return callStockKernel('ResizeNearestNeighborGrad', args);
  const mean = callStockKernel('AvgPool', { inputs: { x: dy }, backend, attrs: { filterSize: f, strides: f, pad: 'valid' } });
  const count = filled(backend, [1], f[0] * f[1]);
  const out = callKernel('Multiply', { a: mean, b: count }, {}, backend);
  backend.disposeData(mean.dataId);
  backend.disposeData(count.dataId);
  return out;
}

/** The pooling window of an average pool that tiles its input exactly (window = stride, no padding), or null. */
function tilingWindow(xShape: number[], attrs: tf.AvgPoolAttrs): [number, number] | null {
  const info = tf.backend_util.computePool2DInfo(xShape as [number, number, number, number], attrs.filterSize,
                                                 attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, padInfo: p } = info;
  const tiles = fh === sh && fw === sw && info.outHeight * sh === info.inHeight && info.outWidth * sw === info.inWidth;
  return tiles && p.top === 0 && p.left === 0 && p.bottom === 0 && p.right === 0 ? [fh, fw] : null;
}

/** With window = stride and no padding, each dy spreads over its window, divided by the window's size. */
function avgPoolGrad(args: KernelArgs): TensorInfo {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const f = dy.dtype === 'float32' ? tilingWindow(input.shape, args.attrs as unknown as tf.AvgPoolAttrs) : null;
  if (f === null) return callStockKernel('AvgPoolGrad', args);
  return spreadBlocks(args.backend as WasmBackend, dy, f[0], f[1], 1 / (f[0] * f[1]));
}

/** Registers the kernels of this file on the wasm backend (idempotent). */
export function registerWasmFastKernels(): void {
  replaceWasmKernel('Identity', identity);
  replaceWasmKernel('Cast', cast);
  replaceWasmKernel('BatchMatMul', batchMatMul);
  replaceWasmKernel('Sum', sum);
  replaceWasmKernel('Mean', mean);
  replaceWasmKernel('ResizeNearestNeighbor', resizeNearestNeighbor);
  replaceWasmKernel('ResizeNearestNeighborGrad', resizeNearestNeighborGrad);
  replaceWasmKernel('AvgPoolGrad', avgPoolGrad);
}
