/**
 * Which tfjs kernels a piece of work calls, and whether another backend has
 * them: a static check of a backend the machine cannot run (webgpu without a
 * GPU). Kernel registration is independent of any device: importing
 * `@tensorflow/tfjs-backend-webgpu` registers its kernels for 'webgpu' even
 * where Dawn finds no adapter, so `tf.getKernel(name, 'webgpu')` answers here.
 *
 * Gradients are registered per kernel name, not per backend: the kernels a
 * training step's backward pass calls are recorded like the forward ones.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/**
 * Calls of each kernel name while `work` ran on the current backend, by name.
 * Every kernel registered for the backend is wrapped in a counter for the
 * duration (an engine-level hook: tf.profile keeps a record per call and
 * overflows the stack at ~100k calls).
 */
export async function kernelsUsed(work: () => unknown, backend: string = tf.getBackend()): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  const originals = tf.getKernelsForBackend(backend);
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, backend);
    tf.registerKernel({
      ...k,
      kernelFunc: ((args: Parameters<tf.KernelFunc>[0]) => {
        calls.set(k.kernelName, (calls.get(k.kernelName) ?? 0) + 1);
        return k.kernelFunc(args);
      }) as tf.KernelFunc,
    });
  }
  try {
    await work();
  } finally {
    for (const k of originals) {
      tf.unregisterKernel(k.kernelName, backend);
      tf.registerKernel(k);
    }
  }
  return calls;
}

/**
 * Kernels registered for `backend` but for none of `others`: on wasm, the
 * kit's own fused kernels (FusedAdam, ...) and the few stock kernels only
 * tfjs-backend-wasm has.
 */
export function exclusiveKernels(backend: string, others: string[]): string[] {
  return tf.getKernelsForBackend(backend).map((k) => k.kernelName)
    .filter((name) => others.every((other) => tf.getKernel(name, other) == null)).sort();
}

/**
 * Unregisters `names` from `backend` for the duration of `work`, then puts
 * them back: the kit uses such kernels only where the current backend has
 * them (train/optim.ts checks `tf.getKernel`), so hiding them records the path
 * another backend takes.
 */
export async function withoutKernels<T>(backend: string, names: string[], work: () => Promise<T> | T): Promise<T> {
  const saved = names.map((name) => tf.getKernel(name, backend)).filter((k): k is tf.KernelConfig => k != null);
  for (const k of saved) tf.unregisterKernel(k.kernelName, backend);
  try {
    return await work();
  } finally {
    for (const k of saved) tf.registerKernel(k);
  }
}

/** What `backend` lacks of a set of kernel names. */
export interface KernelCoverage {
  backend: string;
  /** Kernel names used, sorted. */
  used: string[];
  /** Used but not registered for `backend`. */
  missing: string[];
  /**
   * Registered, but the kernel function itself reads tensor values back
   * synchronously (`backend.readSync`) without the `shouldExecuteOnCPU` guard
   * that limits such reads to values already on the CPU: on webgpu in Node
   * that read fails. Found by the kernel function's source text, so helpers
   * it calls are not seen.
   */
  readsSync: string[];
}

/** Checks each name in `used` against the kernels registered for `backend`. */
export function kernelCoverage(used: Iterable<string>, backend: string): KernelCoverage {
  const names = [...new Set(used)].sort();
  const missing: string[] = [], readsSync: string[] = [];
  for (const name of names) {
    const k = tf.getKernel(name, backend);
    if (k == null) missing.push(name);
    else if (/\breadSync\s*\(/.test(k.kernelFunc.toString()) && !/shouldExecuteOnCPU/.test(k.kernelFunc.toString())) readsSync.push(name);
  }
  return { backend, used: names, missing, readsSync };
}

/**
 * Synchronous reads of tensor values (dataSync, arraySync, bufferSync, and
 * tfjs ops that call them) while `work` ran, by the first caller in this
 * kit's compiled sources (`file:line`), with their counts. On webgpu in Node
 * each of these fails: only `await tensor.data()` / `array()` can read there.
 */
export async function syncReadsDuring(work: () => unknown,
                                      kitDir: string = path.join(__dirname, '..', 'src')): Promise<Map<string, number>> {
  const engine = tf.engine() as unknown as { readSync(dataId: object): unknown };
  const own = Object.prototype.hasOwnProperty.call(engine, 'readSync');
  const readSync = engine.readSync;
  const reads = new Map<string, number>();
  const root = path.dirname(kitDir) + path.sep;
  engine.readSync = function (this: unknown, dataId: object) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 40;
    const frames = (new Error().stack ?? '').split('\n').slice(2);
    Error.stackTraceLimit = limit;
    const frame = frames.find((f) => f.includes(root) && !f.includes('node_modules') && !f.includes('kernels_used')) ?? frames[0] ?? '?';
    const m = frame.match(/at (?:(\S+) )?\(?(.+):(\d+):\d+\)?$/);
    const where = m ? `${m[2].replace(root, '')}:${m[3]}${m[1] ? ` (${m[1]})` : ''}` : frame.trim();
    reads.set(where, (reads.get(where) ?? 0) + 1);
    return readSync.call(this, dataId);
  };
  try {
    await work();
  } finally {
    if (own) engine.readSync = readSync;
    else delete (engine as { readSync?: unknown }).readSync;
  }
  return reads;
}
