/**
 * Picks the fastest tfjs backend that works here, once, at start-up:
 *
 *   tensorflow (tfjs-node-gpu)  >  tensorflow (tfjs-node)  >  webgpu  >  wasm  >  cpu
 *
 * `BIGBIGAN_BACKEND` (or the `force` option) names one of `node-gpu`, `node`,
 * `webgpu`, `wasm`, `cpu`; a forced backend that cannot start is an error,
 * never a silent fallback. One line tells which backend runs and why.
 *
 * webgpu: npm `webgpu` (Dawn, a prebuilt native addon) provides the WebGPU API
 * in Node; `@tensorflow/tfjs-backend-webgpu` runs tfjs on it. Dawn drives the
 * GPU through Vulkan on Linux, Metal on macOS, D3D12 on Windows; no CUDA. The
 * backend is used only when Dawn finds an adapter (`requestAdapter()` is not
 * null); CPU Vulkan drivers such as Mesa's lavapipe are rejected by Dawn.
 *
 * The native backend is detected by `tf.getBackend() === 'tensorflow'` after
 * loading the package, never by a successful `require`: the danfojs-node
 * install workaround (package.json `overrides`) puts the pure-JS
 * `@tensorflow/tfjs` at the name `@tensorflow/tfjs-node`. The real CPU
 * package is therefore installed (optionally) under the alias
 * `tfjs-node-native`; a real `@tensorflow/tfjs-node` put there by hand is
 * accepted too.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as url from 'url';
import * as tf from '@tensorflow/tfjs';
import { registerWasmConvGradients } from './kernels/wasm_conv2d_grads';
import { startWasmThreads, wasmThreads } from './kernels/wasm_threads';
import { registerNativeKernels } from './kernels/native_dnnl';
import { registerCpuResizeGrad } from './kernels/cpu_resize_grad';

export const BACKEND_CHOICES = ['node-gpu', 'node', 'webgpu', 'wasm', 'cpu'] as const;
export type BackendChoice = typeof BACKEND_CHOICES[number];

export interface BackendInfo {
  /** The choice that runs. */
  choice: BackendChoice;
  /** tf.getBackend() after selection: 'tensorflow', 'webgpu', 'wasm' or 'cpu'. */
  tfBackend: string;
  /** Why this one: what was forced, or why the faster ones were passed over. */
  reason: string;
  /** The one line printed at start-up. */
  line: string;
}

/** The names a native package may be installed under, in order of preference. */
const NATIVE_PACKAGES: Record<'node-gpu' | 'node', string[]> = {
  'node-gpu': ['@tensorflow/tfjs-node-gpu'],
  'node': ['tfjs-node-native', '@tensorflow/tfjs-node'],
};

/** Loads a native package and reports why it is unusable, or null when 'tensorflow' runs. */
async function tryNative(choice: 'node-gpu' | 'node'): Promise<string | null> {
  const failures: string[] = [];
  for (const pkg of NATIVE_PACKAGES[choice]) {
    try {
      require(pkg);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      failures.push(code === 'MODULE_NOT_FOUND' ? `${pkg} is not installed`
                                                : `${pkg} failed to load (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    if (tf.findBackend('tensorflow') == null) {
      failures.push(`${pkg} resolves to a pure-JS stand-in (the danfojs-node alias), not the native package`);
      continue;
    }
    if (!(await tf.setBackend('tensorflow')) || tf.getBackend() !== 'tensorflow') {
      return `${pkg} is installed but its 'tensorflow' backend did not start`;
    }
    nativePackage = pkg;
    return null;
  }
  return failures.join('; ');
}

/** The package that provided the 'tensorflow' backend, once one did. */
let nativePackage = '';

/* ---------------------------------------------------------------- webgpu */

/** The parts of Dawn's WebGPU objects this file touches (no DOM typings in this project). */
export interface GpuAdapterInfo { vendor?: string; architecture?: string; device?: string; description?: string }
export interface GpuAdapter {
  readonly info?: GpuAdapterInfo;
  readonly features: { has(name: string): boolean };
  readonly limits: Record<string, number>;
  requestDevice(descriptor?: object): Promise<unknown>;
}
export interface Gpu { requestAdapter(options?: object): Promise<GpuAdapter | null> }
interface WebgpuModule { create(flags: string[]): Gpu; globals: Record<string, unknown> }

/**
 * `import()` that TypeScript's CommonJS output leaves alone: `webgpu` is an ES
 * module, and `require` of an ES module needs Node ≥ 20.19 (and warns there).
 */
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

/** The adapter Dawn found, once one was (for the summary line). */
let webgpuAdapter: GpuAdapter | null = null;

/** Loads Dawn (npm `webgpu`) and creates its GPU object, or says why not. */
async function loadDawn(): Promise<{ gpu: Gpu; globals: Record<string, unknown> } | string> {
  let file: string;
  try {
    file = require.resolve('webgpu');
  } catch {
    return 'the webgpu package (Dawn) is not installed (npm install webgpu@0.6.2)';
  }
  try {
    const m = await importModule(url.pathToFileURL(file).href) as WebgpuModule;
    return { gpu: m.create([]), globals: m.globals };
  } catch (e) {
    return `the webgpu package (Dawn) failed to load (${(e as Error).message.split('\n')[0]})`;
  }
}

/** Where the WebGPU implementation comes from: Dawn; tests put a fake GPU here. */
export const webgpuProvider = { load: loadDawn };

/** Defines the WebGPU globals tfjs-backend-webgpu uses as in a browser (GPUBufferUsage, GPUMapMode, GPUTextureUsage, ...). */
function defineGlobals(globals: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(globals)) {
    if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
  }
}

/** Makes `gpu` the browser's `navigator.gpu` (Node 20 has no `navigator`; Node ≥ 21 has one without `gpu`). */
function exposeNavigatorGpu(gpu: Gpu): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator == null) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (g.navigator.gpu !== gpu) {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  }
}

/**
 * Whether the dynamic loader can find the Vulkan loader, libvulkan.so.1 (Linux):
 * in LD_LIBRARY_PATH, the loader cache or the default folders. Dawn needs it
 * to see any GPU there.
 */
export function vulkanLoaderFound(env: NodeJS.ProcessEnv = process.env, exists: (p: string) => boolean = fs.existsSync,
                                  ldCache: () => string = () => fs.readFileSync('/etc/ld.so.cache', 'latin1')): boolean {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== ''),
                '/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib',
                '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu'];
  if (dirs.some((d) => exists(path.join(d, 'libvulkan.so.1')))) return true;
  try {
    return ldCache().includes('libvulkan.so.1');
  } catch {
    return false;
  }
}

const NO_VULKAN = 'libvulkan.so.1 not found: install the Vulkan loader (libvulkan1) and a GPU driver with Vulkan support';

/** Why Dawn may have found no adapter here, in a few words. */
export function noAdapterHint(platform: string = process.platform, vulkan: () => boolean = vulkanLoaderFound): string {
  if (platform === 'darwin') return 'Dawn found no Metal GPU';
  if (platform === 'win32') return 'Dawn found no D3D12 or Vulkan GPU';
  if (!vulkan()) return NO_VULKAN;
  return 'Dawn found no GPU with a usable Vulkan driver; CPU drivers such as Mesa lavapipe are rejected';
}

/**
 * tfjs-backend-webgpu 4.22 reads tensors synchronously (dataSync, arraySync)
 * through an OffscreenCanvas, which only browsers have: in Node that fails
 * with "OffscreenCanvas is not defined". The kit reads asynchronously
 * everywhere (test/webgpu_kernels.test.ts records it); should a synchronous
 * read slip in, this replaces that failure by one that says what to do.
 * Values already on the CPU are still returned.
 */
function guardSyncReads(backendClass: { prototype: object }): void {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  const proto = backendClass.prototype as {
    readSync(dataId: object): unknown;
    tensorMap: { get(dataId: object): { values?: unknown; dtype: string } };
    __bigbiganSyncGuard?: boolean;
  };
  if (proto.__bigbiganSyncGuard) return;
  const readSync = proto.readSync;
  proto.readSync = function (this: typeof proto, dataId: object) {
    const d = this.tensorMap.get(dataId);
    if (d.values != null || d.dtype === 'string' || d.dtype === 'complex64') return readSync.call(this, dataId);
    throw new Error('Expected an asynchronous read on the webgpu backend (await tensor.data() or tensor.array()), ' +
                    'but got a synchronous one (dataSync, arraySync, bufferSync): tfjs-backend-webgpu reads ' +
                    'synchronously through OffscreenCanvas, which Node does not have');
  };
  proto.__bigbiganSyncGuard = true;
}

/**
 * Starts the webgpu backend, or says why not. `probe`: the automatic choice,
 * which on Linux skips loading Dawn where no Vulkan loader exists (Dawn would
 * only print a warning and find nothing).
 */
async function tryWebgpu(probe = false): Promise<string | null> {
  if (tf.findBackend('webgpu') != null && webgpuAdapter != null) {
    return (await tf.setBackend('webgpu')) && tf.getBackend() === 'webgpu' ? null : 'the webgpu backend did not start';
  }
  if (probe && process.platform === 'linux' && !vulkanLoaderFound()) return `no GPU adapter (${NO_VULKAN})`;
  const loaded = await webgpuProvider.load();
  if (typeof loaded === 'string') return loaded;
  const { gpu } = loaded;
  defineGlobals(loaded.globals);
  let adapter: GpuAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (e) {
    return `requestAdapter failed (${(e as Error).message.split('\n')[0]})`;
  }
  if (adapter == null) return `no GPU adapter (${noAdapterHint()})`;
  exposeNavigatorGpu(gpu);
  let webgpuBackend: { WebGPUBackend: new (device: unknown, info?: GpuAdapterInfo) => tf.KernelBackend };
  try {
    // Registers the kernels, and (as navigator.gpu is now defined) the backend factory.
    webgpuBackend = require('@tensorflow/tfjs-backend-webgpu');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'MODULE_NOT_FOUND' ? '@tensorflow/tfjs-backend-webgpu is not installed'
                                       : `@tensorflow/tfjs-backend-webgpu failed to load (${(e as Error).message.split('\n')[0]})`;
  }
  guardSyncReads(webgpuBackend.WebGPUBackend);
  if (tf.findBackendFactory('webgpu') == null) {
    // The package was loaded earlier, before navigator.gpu existed, so it registered no factory:
    // the same device request as the package's own factory, on the adapter found above.
    tf.registerBackend('webgpu', async () => {
      const l = adapter!.limits;
      const device = await adapter!.requestDevice({
        requiredFeatures: ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter!.features.has(f)),
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize, maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX, maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
      return new webgpuBackend.WebGPUBackend(device, adapter!.info);
    }, 3);
  }
  try {
    if (!(await tf.setBackend('webgpu')) || tf.getBackend() !== 'webgpu') {
      return `the webgpu backend did not start on ${adapterName(adapter)}`;
    }
  } catch (e) {
    return `the webgpu backend failed on ${adapterName(adapter)} (${(e as Error).message.split('\n')[0]})`;
  }
  webgpuAdapter = adapter;
  return null;
}

function adapterName(adapter: GpuAdapter): string {
  const i = adapter.info ?? {};
  const name = [i.vendor, i.architecture, i.device].filter((s) => s != null && s !== '').join(' ');
  return i.description ? `${name ? name + ', ' : ''}${i.description}` : (name || 'an unnamed adapter');
}

/* ------------------------------------------------------------ wasm, cpu */

/**
 * Threads the wasm backend starts with: BIGBIGAN_WASM_THREADS (default 1).
 * Measured on bench32 with 2 cores, 2 threads were 1.18x faster than 1; a
 * sweep instead runs two single-threaded processes (1.9x).
 */
function wasmThreadsWanted(): number {
  const raw = process.env.BIGBIGAN_WASM_THREADS;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Expected BIGBIGAN_WASM_THREADS to be a whole number ≥ 1, but got '${raw}'`);
  return n;
}

async function tryWasm(): Promise<string | null> {
  const threads = wasmThreadsWanted();
  try {
    require('@tensorflow/tfjs-backend-wasm');
    if (threads > 1) await startWasmThreads(threads);  // keeps a backend already started with that count
    else if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') return 'the wasm backend did not start';
  } catch (e) {
    return `the wasm backend failed to load (${(e as Error).message.split('\n')[0]})`;
  }
  registerWasmConvGradients();
  native = registerNativeKernels();
  return null;
}

/** Whether the wasm backend runs its convolutions on the native oneDNN kernels, and why not. */
let native: ReturnType<typeof registerNativeKernels> | null = null;

// tfjs-cpu's ResizeNearestNeighborGrad is wrong for batch > 1: replaced on import, so `--backend cpu` and the
// tests that take cpu as their reference (tf.setBackend('cpu') without selectBackend) get the right gradient.
registerCpuResizeGrad();

async function tryCpu(): Promise<string | null> {
  registerCpuResizeGrad();
  return (await tf.setBackend('cpu')) && tf.getBackend() === 'cpu' ? null : 'the cpu backend did not start';
}

const ATTEMPTS: Record<BackendChoice, () => Promise<string | null>> = {
  'node-gpu': () => tryNative('node-gpu'),
  'node': () => tryNative('node'),
  'webgpu': () => tryWebgpu(false),
  'wasm': tryWasm,
  'cpu': tryCpu,
};

function describe(choice: BackendChoice): string {
  if (choice === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
    const n = wasmThreads();
    const conv = native == null ? '' : native.used ? `; native kernels on ${native.info}` : `; ${native.reason}`;
    return `wasm (${simd}, ${n} thread${n === 1 ? '' : 's'}${conv})`;
  }
  if (choice === 'cpu') return 'cpu (pure JS, slow: for tiny tests only)';
  if (choice === 'webgpu') return `webgpu (Dawn: ${webgpuAdapter ? adapterName(webgpuAdapter) : 'unknown adapter'})`;
  return `tensorflow (${nativePackage})`;
}

/** Parses a backend name as given by a user (env var or CLI flag). */
export function parseBackendChoice(value: string, source: string): BackendChoice {
  const v = value.trim().toLowerCase();
  if ((BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new Error(`Expected ${source} to be one of ${BACKEND_CHOICES.join(', ')}, but got '${value}'`);
}

/**
 * The cpu backend prints an "install tfjs-node" banner on first use; our
 * one-line summary already says which backend runs and why.
 */
function silenceCpuBanner(): void {
  const cpu = tf.findBackend('cpu') as (tf.KernelBackend & { firstUse?: boolean }) | null;
  if (cpu != null) cpu.firstUse = false;
}

let selected: BackendInfo | null = null;

/**
 * Selects and starts the backend (once per process; later calls return the
 * first result unless `force` names a different one).
 * @param opts.force a backend to use instead of the automatic order (else `BIGBIGAN_BACKEND`)
 * @param opts.quiet do not print the one-line summary
 */
export async function selectBackend(opts: { force?: string; quiet?: boolean } = {}): Promise<BackendInfo> {
  const envValue = process.env.BIGBIGAN_BACKEND;
  const forced = opts.force != null ? parseBackendChoice(opts.force, 'the backend')
               : envValue ? parseBackendChoice(envValue, 'BIGBIGAN_BACKEND') : null;
  if (selected != null && (forced == null || forced === selected.choice)) return selected;

  let info: BackendInfo;
  if (forced != null) {
    const failure = await ATTEMPTS[forced]();
    if (failure != null) {
      const detail = forced === 'webgpu' ? `the webgpu backend cannot run: ${failure}` : failure;
      throw new Error(`Backend '${forced}' was requested${opts.force == null ? ' by BIGBIGAN_BACKEND' : ''}, but ${detail}` +
                      (forced.startsWith('node') || forced === 'webgpu' ? '. See the README section "Backends".' : ''));
    }
    const reason = opts.force != null ? 'requested' : `BIGBIGAN_BACKEND=${envValue}`;
    info = { choice: forced, tfBackend: tf.getBackend(), reason, line: '' };
  } else {
    const skipped: string[] = [];
    let choice: BackendChoice | null = null;
    for (const candidate of BACKEND_CHOICES) {
      const failure = candidate === 'webgpu' ? await tryWebgpu(true) : await ATTEMPTS[candidate]();
      if (failure == null) { choice = candidate; break; }
      skipped.push(candidate === 'webgpu' ? `webgpu: ${failure}` : failure);
    }
    if (choice == null) throw new Error(`Expected at least the cpu backend to start, but none did: ${skipped.join('; ')}`);
    const reason = skipped.length === 0 ? 'fastest available' : skipped.join('; ');
    info = { choice, tfBackend: tf.getBackend(), reason, line: '' };
  }
  silenceCpuBanner();
  info.line = `[bigbigan] backend: ${describe(info.choice)} — ${info.reason}`;
  if (!opts.quiet) console.log(info.line);
  selected = info;
  return info;
}
