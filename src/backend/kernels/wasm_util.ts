/**
 * What the kit's wasm kernels share: the parts of tfjs-backend-wasm's backend
 * they use, calling another kernel on TensorInfos, views of a buffer under
 * another shape, and replacing one of the backend's kernels while keeping the
 * original (ours fall back to it for the cases they do not speed up, and the
 * benchmarks compare against it).
 *
 * Kernels call other kernels' functions directly (as tfjs's own kernels do),
 * never tf ops, and free every intermediate with `backend.disposeData`.
 */
import * as tf from '@tensorflow/tfjs';

export type TensorInfo = tf.TensorInfo;

/** The parts of BackendWasm that the kit's kernels use. */
export interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap };

/** tfjs-wasm's own kernels that ours replaced, by name (for fallbacks and benchmarks). */
export const replacedWasmKernels = new Map<string, tf.KernelConfig>();

/** The wasm kernel `name` as tfjs-wasm registered it (before ours replaced it). */
function stockKernel(name: string): tf.KernelConfig | undefined {
  return replacedWasmKernels.get(name) ?? tf.getKernel(name, 'wasm');
}

/** The kernel the latest replacement of each kernel was registered over (the kit's own, or tfjs-wasm's). */
const underneath = new Map<string, tf.KernelFunc>();

/**
 * Runs the kernel that the registered `name` replaced: a layer over the kit's
 * kernels (the native ones) falls back to them, not to tfjs-wasm's.
 */
export function callUnderlyingKernel(name: string, args: KernelArgs): TensorInfo {
  const f = underneath.get(name);
  if (f == null) throw new Error(`Expected a wasm kernel underneath ${name}, but it replaced none`);
  return f(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
}

/** Runs another wasm kernel on TensorInfos (no engine bookkeeping, no tape). */
export function callKernel(name: string, inputs: Record<string, TensorInfo>, attrs: object,
                           backend: WasmBackend): TensorInfo {
  const config = tf.getKernel(name, 'wasm');
  if (config == null) throw new Error(`Expected the wasm backend to have kernel ${name}, but it has none`);
  return config.kernelFunc({ inputs, attrs: attrs as tf.NamedAttrMap, backend }) as TensorInfo;
}

/** Runs tfjs-wasm's own kernel `name` (the one ours replaced, if any). */
export function callStockKernel(name: string, args: KernelArgs): TensorInfo {
  const config = stockKernel(name);
  if (config == null) throw new Error(`Expected the wasm backend to have kernel ${name}, but it has none`);
  return config.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as TensorInfo;
}

/** The same data seen with another shape (what the Reshape kernel does, without its refcount). */
export function view(info: TensorInfo, shape: number[]): TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

/** A new float32 buffer of `shape` on the wasm heap, every element `value`. */
export function filled(backend: WasmBackend, shape: number[], value: number): TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  backend.typedArrayFromHeap(out).fill(value);
  return out;
}

/**
 * Registers `kernelFunc` as the wasm kernel `kernelName` (idempotent), keeping
 * the kernel it replaces in `replacedWasmKernels`.
 */
export function replaceWasmKernel(kernelName: string, kernelFunc: (args: KernelArgs) => TensorInfo): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (existing?.kernelFunc === kernelFunc) return;
  if (existing != null) {
    if (!replacedWasmKernels.has(kernelName)) replacedWasmKernels.set(kernelName, existing);
    underneath.set(kernelName, existing.kernelFunc);
    tf.unregisterKernel(kernelName, 'wasm');
  }
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
}
