/**
 * Picks the fastest tfjs backend that works here, once, at start-up:
 *
 *   tensorflow (tfjs-node-gpu)  >  tensorflow (tfjs-node)  >  wasm  >  cpu
 *
 * `BIGBIGAN_BACKEND` (or the `force` option) names one of `node-gpu`, `node`,
 * `wasm`, `cpu`; a forced backend that cannot start is an error, never a
 * silent fallback. One line tells which backend runs and why.
 *
 * The native backend is detected by `tf.getBackend() === 'tensorflow'` after
 * loading the package, never by a successful `require`: the danfojs-node
 * install workaround (package.json `overrides`) puts the pure-JS
 * `@tensorflow/tfjs` at the name `@tensorflow/tfjs-node`. The real CPU
 * package is therefore installed (optionally) under the alias
 * `tfjs-node-native`; a real `@tensorflow/tfjs-node` put there by hand is
 * accepted too.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmConvGradients } from './kernels/wasm_conv2d_grads';

export const BACKEND_CHOICES = ['node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = typeof BACKEND_CHOICES[number];

export interface BackendInfo {
  /** The choice that runs. */
  choice: BackendChoice;
  /** tf.getBackend() after selection: 'tensorflow', 'wasm' or 'cpu'. */
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

async function tryWasm(): Promise<string | null> {
  try {
    require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') return 'the wasm backend did not start';
  } catch (e) {
    return `the wasm backend failed to load (${(e as Error).message.split('\n')[0]})`;
  }
  registerWasmConvGradients();
  return null;
}

async function tryCpu(): Promise<string | null> {
  return (await tf.setBackend('cpu')) && tf.getBackend() === 'cpu' ? null : 'the cpu backend did not start';
}

const ATTEMPTS: Record<BackendChoice, () => Promise<string | null>> = {
  'node-gpu': () => tryNative('node-gpu'),
  'node': () => tryNative('node'),
  'wasm': tryWasm,
  'cpu': tryCpu,
};

function describe(choice: BackendChoice): string {
  if (choice === 'wasm') {
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'SIMD' : 'no SIMD';
    return `wasm (${simd}, 1 thread)`;
  }
  if (choice === 'cpu') return 'cpu (pure JS, slow: for tiny tests only)';
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
      throw new Error(`Backend '${forced}' was requested${opts.force == null ? ' by BIGBIGAN_BACKEND' : ''}, but ${failure}` +
                      (forced.startsWith('node') ? '. See the README section "Backends".' : ''));
    }
    const reason = opts.force != null ? 'requested' : `BIGBIGAN_BACKEND=${envValue}`;
    info = { choice: forced, tfBackend: tf.getBackend(), reason, line: '' };
  } else {
    const skipped: string[] = [];
    let choice: BackendChoice | null = null;
    for (const candidate of BACKEND_CHOICES) {
      const failure = await ATTEMPTS[candidate]();
      if (failure == null) { choice = candidate; break; }
      skipped.push(failure);
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
