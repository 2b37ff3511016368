/**
 * Starts tfjs-backend-wasm with several threads in Node (XNNPACK's convolutions
 * and matrix products then use every core, with bit-for-bit the same results).
 *
 * tfjs-backend-wasm 4.22 ships a threaded build but switches it off in Node
 * (tensorflow/tfjs#3830): its emscripten pthread workers are started from
 * `blob:` URLs, which Node's worker_threads cannot load. The emscripten code
 * itself supports Node. `startWasmThreads` therefore
 *   1. says the platform has threads (flag WASM_HAS_MULTITHREAD_SUPPORT),
 *   2. while the backend initialises, records the two scripts tfjs puts in
 *      Blobs (the pthread worker and the module factory), writes them to a
 *      temporary folder and hands out their paths instead of `blob:` URLs
 *      (the worker is made to load the factory from its file, and the
 *      factory gets the bundle's module variables it refers to),
 *   3. reports 2·threads cores during initialisation (tfjs-wasm caps its pool
 *      at half the logical cores, counting hyper-threads).
 * Everything is restored once the backend has started. It must run before
 * anything starts the wasm backend. Only what tfjs-wasm runs in C++ is
 * parallel; the kit's JS kernels (im2col, Adam) stay on the main thread.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

/** The line of tfjs-wasm 4.22's pthread worker that loads the factory from a Blob. */
const WORKER_LOADS_FACTORY = 'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}' +
  'else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';
/** How the factory script starts. */
const FACTORY_START = 'var WasmBackendModuleThreadedSimd';
/** The bundle's module variables the factory's source refers to (tf-backend-wasm.node.js lines 20-23). */
const FACTORY_PRELUDE = "var require$$0 = require('fs'), require$$1 = require('path'), require$$3 = require('perf_hooks'), " +
  "require$$4 = require('os'), commonjsGlobal = globalThis;\n";

/** The 'os' module object itself, which tfjs-wasm's bundle also requires (an `import *` gives a read-only copy). */
const osModule: typeof os = require('os');

interface WasmModule {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

function wasmPackage(): WasmModule {
  return require('@tensorflow/tfjs-backend-wasm') as WasmModule;
}

/** Whether the wasm backend has been initialised in this process. */
function wasmStarted(): boolean {
  return (tf.engine() as unknown as { registry: Record<string, unknown> }).registry.wasm != null;
}

/** Threads the running wasm backend computes with (1 if it has not started). */
export function wasmThreads(): number {
  return wasmStarted() ? wasmPackage().getThreadsCount() : 1;
}

/**
 * Runs `init` with Blob, URL.createObjectURL and os.cpus replaced as the file's
 * comment says, the scripts written under `dir`; restores them afterwards.
 */
async function withThreadShims<T>(dir: string, cores: number, init: () => Promise<T>): Promise<T> {
  const OriginalBlob = globalThis.Blob, createObjectURL = URL.createObjectURL, cpus = osModule.cpus;
  const texts = new WeakMap<Blob, string>();
  const factory = path.join(dir, 'factory.js'), worker = path.join(dir, 'worker.js');
  globalThis.Blob = class extends OriginalBlob {
    constructor(parts: ConstructorParameters<typeof Blob>[0] = [], options?: ConstructorParameters<typeof Blob>[1]) {
      super(parts, options);
      const text = parts.every((p) => typeof p === 'string') ? parts.join('') : '';
      texts.set(this, text);
      if (text.startsWith(FACTORY_START)) fs.writeFileSync(factory, FACTORY_PRELUDE + text);
    }
  };
  let workerWritten = false;
  URL.createObjectURL = (blob: Blob) => {
    const text = texts.get(blob);
    if (text === undefined || !text.includes(WORKER_LOADS_FACTORY)) return createObjectURL(blob);
    // Asked once per pool worker (8) while earlier workers already read the file: a rewrite (truncate, then
    // write) let one read it empty and exit 0, so the pool never finished loading and Node exited mid-start.
    if (!workerWritten) fs.writeFileSync(worker, text.replace(WORKER_LOADS_FACTORY, `importScripts(${JSON.stringify(factory)});`));
    workerWritten = true;
    return worker;
  };
  const one = cpus()[0];
  osModule.cpus = () => Array.from({ length: cores }, () => one);
  try {
    return await init();
  } finally {
    globalThis.Blob = OriginalBlob;
    URL.createObjectURL = createObjectURL;
    osModule.cpus = cpus;
  }
}

/**
 * Starts the wasm backend with `threads` threads (and makes it the current
 * backend); returns the threads it got. 1 starts the ordinary single-threaded
 * build. Call it before anything else starts the wasm backend (selectBackend
 * afterwards keeps it).
 */
export async function startWasmThreads(threads: number): Promise<number> {
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`Expected a whole number of threads ≥ 1, but got ${threads}`);
  const wasm = wasmPackage();
  if (wasmStarted()) {
    const running = wasm.getThreadsCount();
    if (running === threads) return running;
    throw new Error(`Expected to start the wasm backend with ${threads} thread(s) before it ran, but it already runs with ${running}`);
  }
  if (threads > 1) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bigbigan-wasm-threads-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  const ok = await withThreadShims(dir, 2 * threads, () => tf.setBackend('wasm'));
  if (!ok || tf.getBackend() !== 'wasm') {
    throw new Error(`Expected the wasm backend to start with ${threads} thread(s), but it did not start`);
  }
  const got = wasm.getThreadsCount();
  if (got !== threads) throw new Error(`Expected the wasm backend to start with ${threads} thread(s), but it started with ${got}`);
  // The thread pool's workers wait for work for ever: they must not keep Node from exiting.
  const module = (tf.backend() as unknown as { wasm: { PThread?: { runningWorkers: Array<{ unref(): void }> } } }).wasm;
  for (const worker of module.PThread?.runningWorkers ?? []) worker.unref();
  return got;
}
