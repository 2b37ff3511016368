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
import { KernelArgs, replaceWasmKernel, TensorInfo, WasmBackend } from './wasm_util';

/** What native/dnnl_kernels.cc exports. */
interface DnnlAddon {
  /** mode 0: y = conv(x, filter); 1: x = dx from y = dy; 2: filter = dW from x and y = dy. */
  conv2d(mode: number, x: Float32Array, filter: Float32Array, y: Float32Array, shape: Int32Array): void;
  setThreads(n: number): void;
  info(): string;
}

/** Where scripts/build-native.js puts the addon (from dist/src/kernels/). */
export const NATIVE_ADDON_PATH = path.join(__dirname, '..', '..', '..', 'build', 'native', 'dnnl_kernels.node');

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
  try {
    addon = require(file) as DnnlAddon;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { used: false, reason: code === 'MODULE_NOT_FOUND'
      ? `no native conv2d kernels (${path.basename(file)} is not built: install g++ and libdnnl-dev, then npm run build)`
      : `the native conv2d kernels failed to load (${(e as Error).message.split('\n')[0]})` };
  }
  addon.setThreads(threadsWanted());
  for (const [name, kernel] of Object.entries(KERNELS)) {
    const current = tf.getKernel(name, 'wasm');
    if (current != null && current.kernelFunc !== kernel) fallbacks.set(name, current.kernelFunc);
    replaceWasmKernel(name, kernel);
  }
  return { used: true, info: addon.info() };
}

/** The kernels ours replaced (the kit's JS ones or tfjs-wasm's), for what oneDNN is not given. */
const fallbacks = new Map<string, tf.KernelFunc>();

function fallback(name: string, args: KernelArgs): TensorInfo {
  return fallbacks.get(name)!(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
}

type ConvAttrs = { strides: number | [number, number]; pad: tf.backend_util.PadInfo['type'] | number | number[][];
                   dataFormat?: string; dilations?: number | [number, number]; dimRoundingMode?: 'floor' | 'round' | 'ceil' };

/** The conv's geometry, or null where oneDNN is not used (dilation, NCHW). */
function geometry(xShape: number[], filterShape: number[], attrs: ConvAttrs): { info: tf.backend_util.Conv2DInfo; shape: Int32Array } | null {
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

function conv2D(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
  const g = geometry(x.shape, filter.shape, args.attrs as unknown as ConvAttrs);
  if (g == null) return fallback('Conv2D', args);
  const y = backend.makeOutput([g.info.batchSize, g.info.outHeight, g.info.outWidth, g.info.outChannels], 'float32');
  // Views are taken after the last allocation: a heap growth would detach them.
  addon!.conv2d(Mode.Forward, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(filter), backend.typedArrayFromHeap(y), g.shape);
  return y;
}

function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { inputShape: number[] };
  const g = geometry(attrs.inputShape, filter.shape, attrs);
  if (g == null) return fallback('Conv2DBackpropInput', args);
  const dx = backend.makeOutput(attrs.inputShape.slice(), 'float32');
  addon!.conv2d(Mode.BackwardData, backend.typedArrayFromHeap(dx), backend.typedArrayFromHeap(filter), backend.typedArrayFromHeap(dy), g.shape);
  return dx;
}

function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as ConvAttrs & { filterShape: number[] };
  const g = geometry(x.shape, attrs.filterShape, attrs);
  if (g == null) return fallback('Conv2DBackpropFilter', args);
  const dW = backend.makeOutput(attrs.filterShape.slice(), 'float32');
  addon!.conv2d(Mode.BackwardWeights, backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(dW), backend.typedArrayFromHeap(dy), g.shape);
  return dW;
}

const KERNELS: Record<string, (args: KernelArgs) => TensorInfo> = {
  Conv2D: conv2D,
  Conv2DBackpropInput: conv2DBackpropInput,
  Conv2DBackpropFilter: conv2DBackpropFilter,
};
