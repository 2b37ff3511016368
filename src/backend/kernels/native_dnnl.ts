/**
 * Optional native conv2d kernels for the wasm backend, on oneDNN.
 *
 * On bench32 the three convolution kernels (forward, input gradient, filter
 * gradient) take about three quarters of a training step on wasm, which has
 * 128-bit SIMD on one thread. native/dnnl_kernels.cc runs them with oneDNN
 * (Debian's `libdnnl-dev`): the CPU's full vector width and every core, on the
 * wasm heap in place (no copies). `npm run build` compiles it where g++ and
 * libdnnl-dev are installed (scripts/build-native.js); elsewhere the kit keeps
 * its wasm kernels, and says why in the backend line.
 *
 * BIGBIGAN_NATIVE=0 switches the native kernels off; BIGBIGAN_NATIVE_THREADS=N
 * sets oneDNN's threads (default: every core; a sweep gives each of its runs
 * its share).
 */
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { callUnderlyingKernel, KernelArgs, replaceWasmKernel, TensorInfo, WasmBackend } from './wasm_util';

/** What native/dnnl_kernels.cc exports. */
interface DnnlAddon {
  /** mode 0: y = conv(x, filter); 1: x = dx from y = dy; 2: filter = dW from x and y = dy. */
  conv2d(mode: number, x: Float32Array, filter: Float32Array, y: Float32Array, shape: Int32Array): void;
  /** out[i] = op(a[i]) · op(b[i]) (a batch of 1 is shared); shape [batchA, batchB, M, K, N, transposeA, transposeB]. */
  matmul(a: Float32Array, b: Float32Array, out: Float32Array, shape: Int32Array): void;
  /** out[r·cols + j] = a[r·sa + j] op b[r·sb + j] (sa, sb: cols, or 0 for a repeated row); op 0 +, 1 -, 2 ·, 3 /. */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array, rows: number, cols: number, sa: number, sb: number): void;
  /** out[j] = Σ_r x[r·cols + j] / divisor. */
  sumRows(x: Float32Array, out: Float32Array, rows: number, cols: number, divisor: number): void;
  setThreads(n: number): void;
  info(): string;
}

/** Where scripts/build-native.js puts the addon (from dist/src/backend/kernels/). */
export const NATIVE_ADDON_PATH = path.join(__dirname, '..', '..', '..', '..', 'build', 'native', 'dnnl_kernels.node');

const enum Mode { Forward = 0, BackwardData = 1, BackwardWeights = 2 }

let addon: DnnlAddon | null = null;

/** oneDNN threads: BIGBIGAN_NATIVE_THREADS, else every core. */
function threadsWanted(): number {
  const raw = process.env.BIGBIGAN_NATIVE_THREADS;
  if (raw === undefined || raw === '') return os.availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Expected BIGBIGAN_NATIVE_THREADS to be a whole number ≥ 1, but got '${raw}'`);
  return n;
}

/**
 * Loads the addon and registers its kernels on the wasm backend (over the
 * kit's JS ones, which stay as the fallback for shapes it does not take).
 * Returns a description ("oneDNN 2.6.3, AVX-512, 2 threads") or, when it is
 * not used, why not.
 */
export function registerNativeKernels(opts: { addonPath?: string } = {}): { used: true; info: string } | { used: false; reason: string } {
  if (process.env.BIGBIGAN_NATIVE === '0') return { used: false, reason: 'native kernels off (BIGBIGAN_NATIVE=0)' };
  const file = opts.addonPath ?? NATIVE_ADDON_PATH;
  // OpenMP's idle threads sleep after a short spin, and waking them cost ~0.5 ms per native call
  // between the wasm ops of a step (bench32: 1.6-1.8 s per iteration, 1.1 s with this). libgomp
  // reads this when the addon loads it: spin ~1 ms before sleeping (10 ms measured no faster), so they sleep when work stops.
  if (process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined) process.env.GOMP_SPINCOUNT = '1000000';
  try {
    addon = require(file) as DnnlAddon;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { used: false, reason: code === 'MODULE_NOT_FOUND'
      ? `no native kernels (${path.basename(file)} is not built: install g++ and libdnnl-dev, then npm run build)`
      : `the native kernels failed to load (${(e as Error).message.split('\n')[0]})` };
  }
  addon.setThreads(threadsWanted());
  for (const [name, kernel] of Object.entries(KERNELS)) replaceWasmKernel(name, kernel);
  nativeInfo = addon.info();
  return { used: true, info: nativeInfo };
}

let nativeInfo: string | null = null;

/** The native kernels in use ("oneDNN 2.6.3, AVX-512, 2 threads"), or null where none were registered. */
export function nativeKernelsInfo(): string | null {
  return nativeInfo;
}

/** What a native kernel does not take goes to the kernel it replaced (the kit's JS one or tfjs-wasm's). */
const fallback = callUnderlyingKernel;

type ConvAttrs = { strides: number | [number, number]; pad: tf.backend_util.PadInfo['type'] | number | number[][];
                   dataFormat?: string; dilations?: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil' };

/** The conv's geometry, or null where oneDNN is not used (dilation, NCHW). */
function geometry(xShape: number[], filterShape: number[],
                  attrs: ConvAttrs): { info: tf.backend_util.Conv2DInfo; shape: Int32Array } | null {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') return null;
  const dil = attrs.dilations ?? 1;
  if (!(dil === 1 || (Array.isArray(dil) && dil[0] === 1 && dil[1] === 1))) return null;
  const info = tf.backend_util.computeConv2DInfo(xShape as [number, number, number, number],
    filterShape as [number, number, number, number], attrs.strides, 1, attrs.pad as 'same', attrs.dimRoundingMode, false, 'channelsLast');
  const p = info.padInfo;
  if (p.top < 0 || p.left < 0 || p.bottom < 0 || p.right < 0) return null;
  return { info, shape: Int32Array.from([info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outHeight, info.outWidth, info.outChannels, info.filterHeight, info.filterWidth,
    info.strideHeight, info.strideWidth, p.top, p.left, p.bottom, p.right]) };
}

/**
 * oneDNN 2.6.3's filter gradient of a strided 1x1 conv writes outside its buffers when its input
 * channels do not fill whole blocks of the CPU's vector width: on AVX2 (blocks of 8) seen with
 * 1, 4, 5 or 12 channels (glibc aborts, `malloc(): unaligned fastbin chunk`, within three calls of
 * x 8x16x16x4, W 1x1x4x8, stride 2), on AVX-512 (blocks of 16) with 8 (x 32x64x64x8, W 1x1x8x16:
 * the 64x64 encoder's shortcut; 24, 40 and 3x3 or stride-1 convs are fine). Those shortcut convs
 * stay on the kit's wasm kernel (test/kernels_native.test.ts runs them under glibc's heap checks).
 */
function corruptsHeap(info: tf.backend_util.Conv2DInfo): boolean {
  return info.filterHeight === 1 && info.filterWidth === 1 && (info.strideHeight > 1 || info.strideWidth > 1) &&
    (info.inChannels % 8 !== 0 || info.inChannels < 16);
}

/**
 * A conv kernel on oneDNN: `roles` names x, the filter and y (= dy) from the kernel's inputs and
 * attributes, with null for the one it computes (y forward, x for the input gradient, the filter
 * for the filter gradient), and the shapes of x and the filter.
 */
type ConvRoles = { xShape: number[]; filterShape: number[]; x: TensorInfo | null; filter: TensorInfo | null; y: TensorInfo | null };

function convKernel(name: string, mode: Mode, roles: (inputs: Record<string, TensorInfo>, attrs: ConvAttrs) => ConvRoles) {
  return (args: KernelArgs): TensorInfo => {
    const backend = args.backend as WasmBackend;
    const attrs = args.attrs as unknown as ConvAttrs;
    const r = roles(args.inputs as Record<string, TensorInfo>, attrs);
    const g = geometry(r.xShape, r.filterShape, attrs);
    if (g == null || (mode === Mode.BackwardWeights && corruptsHeap(g.info))) return fallback(name, args);
    const { batchSize, outHeight, outWidth, outChannels } = g.info;
    const out = backend.makeOutput(r.y == null ? [batchSize, outHeight, outWidth, outChannels]
                                   : (r.x == null ? r.xShape : r.filterShape).slice(), 'float32');
    // Views are taken after the last allocation: a heap growth would detach them.
    const heap = (t: TensorInfo | null) => backend.typedArrayFromHeap(t ?? out);
    addon!.conv2d(mode, heap(r.x), heap(r.filter), heap(r.y), g.shape);
    return out;
  };
}

const conv2D = convKernel('Conv2D', Mode.Forward,
  ({ x, filter }) => ({ xShape: x.shape, filterShape: filter.shape, x, filter, y: null }));
const conv2DBackpropInput = convKernel('Conv2DBackpropInput', Mode.BackwardData,
  ({ dy, filter }, attrs) => ({
    xShape: (attrs as { inputShape?: number[] }).inputShape!, filterShape: filter.shape, x: null, filter, y: dy,
  }));
const conv2DBackpropFilter = convKernel('Conv2DBackpropFilter', Mode.BackwardWeights,
  ({ x, dy }, attrs) => ({ xShape: x.shape, filterShape: (attrs as { filterShape?: number[] }).filterShape!, x, filter: null, y: dy }));

/* ------------------------------------------------ element-wise ops, reductions */

/** Below this many elements the wasm kernels are as fast (the call costs more than the work). */
const NATIVE_FROM = 1 << 14;

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * a op b as rows × cols, when both are float32 and one of them is one row
 * repeated (its shape, leading 1s aside, the trailing axes of the other's: a
 * bias or a per-channel scale), where tfjs-wasm's broadcasting loop was
 * measured 3-4x slower; null for other cases.
 */
function binaryPlan(a: TensorInfo, b: TensorInfo) {
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const na = size(a.shape), nb = size(b.shape), n = Math.max(na, nb);
  if (n < NATIVE_FROM) return null;
  const big = na >= nb ? a.shape : b.shape, small = (na >= nb ? b.shape : a.shape).slice();
  if (na === nb) return null;  // XNNPACK's same-shape kernels measured as fast (bandwidth-bound)
  while (small.length > 0 && small[0] === 1) small.shift();
  const tail = big.slice(big.length - small.length);
  if (small.length === 0 || small.length > big.length || tail.some((d, i) => d !== small[i])) return null;
  const cols = size(small);
  if (cols < 8) return null;
  return { shape: big.slice(), rows: n / cols, cols, sa: na >= nb ? cols : 0, sb: na >= nb ? 0 : cols };
}

function binaryKernel(name: string, op: number) {
  return (args: KernelArgs): TensorInfo => {
    const backend = args.backend as WasmBackend;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const plan = binaryPlan(a, b);
    if (plan == null) return fallback(name, args);
    const out = backend.makeOutput(plan.shape, 'float32');
    addon!.binary(op, backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(b), backend.typedArrayFromHeap(out),
                  plan.rows, plan.cols, plan.sa, plan.sb);
    return out;
  };
}

/** Sum or Mean of float32 x over its leading axes 0..k-1 (batch-norm statistics, bias gradients); others fall back. */
function reduceKernel(name: 'Sum' | 'Mean') {
  return (args: KernelArgs): TensorInfo => {
    const backend = args.backend as WasmBackend;
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const k = axes.length;
    if (x.dtype !== 'float32' || k === 0 || k >= x.shape.length || axes.some((ax, i) => ax !== i) || size(x.shape) < NATIVE_FROM) {
      return fallback(name, args);
    }
    const rows = size(x.shape.slice(0, k)), cols = size(x.shape.slice(k));
    if (cols < 8) return fallback(name, args);
    const out = backend.makeOutput(keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k), 'float32');
    addon!.sumRows(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), rows, cols, name === 'Mean' ? rows : 1);
    return out;
  };
}

/* ------------------------------------------------------------- batched matmul */

/** Below this many multiply-adds the wasm kernel is as fast. */
const MATMUL_FROM = 1 << 15;

/** BatchMatMul of float32 operands whose batches (all axes but the last two) are equal, or one of them 1. */
function batchMatMul(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
  const ra = a.shape.length, rb = b.shape.length;
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || ra < 2 || rb < 2) return fallback('BatchMatMul', args);
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2], k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const ba = size(batchA), bb = size(batchB);
  const sameBatch = batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i]);
  if (!(sameBatch || ba === 1 || bb === 1) || Math.max(ba, bb) * m * n * k < MATMUL_FROM) return fallback('BatchMatMul', args);
  const batchShape = ba >= bb ? batchA : batchB;
  const out = backend.makeOutput([...batchShape, m, n], 'float32');
  addon!.matmul(backend.typedArrayFromHeap(a), backend.typedArrayFromHeap(b), backend.typedArrayFromHeap(out),
                Int32Array.from([ba, bb, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0]));
  return out;
}

const KERNELS: Record<string, (args: KernelArgs) => TensorInfo> = {
  Conv2D: conv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
  Add: binaryKernel('Add', 0),
  Sub: binaryKernel('Sub', 1),
  Multiply: binaryKernel('Multiply', 2),
  RealDiv: binaryKernel('RealDiv', 3),
  BatchMatMul: batchMatMul,
  Sum: reduceKernel('Sum'),
  Mean: reduceKernel('Mean'),
};
