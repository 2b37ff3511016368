/**
 * The threaded wasm backend (src/backend/kernels/wasm_threads.ts): in a fresh process
 * (threads are chosen before the backend starts), two threads start, and
 * training steps of a small BigBiGAN and a large convolution's gradients
 * come out bit for bit as with one thread. Also the refusals: a bad count, and
 * a backend that already runs with another count.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';

const DIST = path.join(__dirname, '..', 'src');

/** A script that starts wasm with `threads`, trains 2 D + E/G steps and a conv gradient, and prints a hash of the results. */
function childScript(threads: number): string {
  return `
const crypto = require('crypto');
const tf = require('@tensorflow/tfjs');
const { startWasmThreads, wasmThreads } = require(${JSON.stringify(path.join(DIST, 'backend', 'kernels', 'wasm_threads'))});
const { selectBackend } = require(${JSON.stringify(path.join(DIST, 'backend', 'select'))});
const { resolveConfig } = require(${JSON.stringify(path.join(DIST, 'presets'))});
const { createTrainState, dStep, egStep } = require(${JSON.stringify(path.join(DIST, 'train', 'steps'))});
(async () => {
  await startWasmThreads(${threads});
  await selectBackend({ force: 'wasm', quiet: true });
  const hash = crypto.createHash('sha256');
  const cfg = resolveConfig('bench32', 'base', ['zDim=9', 'gCh=8', 'gMults=4,2,1', 'gAttention=8', 'resolution=16', 'eResolution=16',
                                                'eCh=8', 'eMlp=32', 'dCh=8', 'dMults=1,2', 'dAttention=8', 'dMlp=32', 'batchSize=16']);
  const state = createTrainState(cfg);
  const x = tf.randomUniform([16, 16, 16, 1], -1, 1, 'float32', 5);
  const losses = [];
  for (let i = 0; i < 2; i++) losses.push((await dStep(state, x)).L_D, (await egStep(state, x)).L_EG);
  for (const p of [state.models.G, state.models.E, state.models.D]) {
    for (const [, v] of p.all()) hash.update(Buffer.from(v.dataSync().buffer));
  }
  const [dx, dw] = tf.tidy(() => {
    const a = tf.randomNormal([16, 32, 32, 16], 0, 1, 'float32', 6), w = tf.randomNormal([3, 3, 16, 32], 0, 1, 'float32', 7);
    return tf.grads((a, w) => tf.sum(tf.square(tf.conv2d(a, w, 1, 'same'))))([a, w]);
  });
  for (const t of [dx, dw]) hash.update(Buffer.from(t.dataSync().buffer));
  console.log(JSON.stringify({ threads: wasmThreads(), losses, hash: hash.digest('hex') }));
})().catch((e) => { console.error(e.message); process.exit(1); });
`;
}

function runChild(script: string) {
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: path.join(DIST, '..', '..') });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** The JSON a child printed last; a child that printed nothing (a pending start, Node exiting 0) is named as such. */
function lastJson(r: ReturnType<typeof runChild>, what: string) {
  assert.equal(r.code, 0, `Expected ${what} to succeed, but it failed: ${r.err}`);
  assert.notEqual(r.out, '', `Expected ${what} to print its result, but it exited 0 having printed nothing (stderr: ${r.err})`);
  return JSON.parse(r.out.split('\n').pop() as string);
}

/**
 * A script that starts wasm with 2 threads while a rewrite of an existing
 * worker.js leaves the file empty for 100 ms (as a slow disk or a loaded
 * machine can), then runs one matMul. Emscripten asks for the worker's URL
 * once per pool worker while earlier workers already read the file: a worker
 * that read it empty exited 0, the pool never finished loading, and Node,
 * with nothing left to wait on, exited 0 mid-start (issue 16, item 10).
 */
const SLOW_REWRITE = `
const fs = require('fs');
const write = fs.writeFileSync;
fs.writeFileSync = function (file, data, ...rest) {
  if (typeof file === 'string' && file.endsWith('worker.js') && fs.existsSync(file)) {
    write.call(fs, file, '');
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
  }
  return write.call(fs, file, data, ...rest);
};
const tf = require('@tensorflow/tfjs');
require(${JSON.stringify(path.join(DIST, 'backend', 'kernels', 'wasm_threads'))}).startWasmThreads(2).then((threads) => {
  const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5], [6]]));
  console.log(JSON.stringify({ threads, y: Array.from(y.dataSync()) }));
}).catch((e) => { console.error(e.message); process.exit(1); });
`;

describe('wasm backend with threads', () => {
  test('two threads start and train bit for bit as one thread does', () => {
    const results = [1, 2].map((threads) => lastJson(runChild(childScript(threads)), `the ${threads}-thread run`));
    assert.deepEqual(results.map((r) => r.threads), [1, 2]);
    for (const l of results[0].losses) assert.ok(Number.isFinite(l), `Expected finite losses, but got ${results[0].losses}`);
    assert.deepEqual(results[1].losses, results[0].losses);
    assert.equal(results[1].hash, results[0].hash, 'Expected the same weights and gradients bit for bit with 2 threads');
  });

  test('the thread pool starts even when a worker script is slow to rewrite (no worker reads it half-written)', () => {
    assert.deepEqual(lastJson(runChild(SLOW_REWRITE), 'the start under a slow rewrite'), { threads: 2, y: [17, 39] });
  });

  test('a bad thread count, or a backend already running with another count, is refused', () => {
    const module = JSON.stringify(path.join(DIST, 'backend', 'kernels', 'wasm_threads'));
    const bad = runChild(`require(${module}).startWasmThreads(0).catch((e) => { console.log(e.message); });`);
    assert.match(bad.out, /Expected a whole number of threads ≥ 1, but got 0/);
    const late = runChild(`const tf = require('@tensorflow/tfjs'); require('@tensorflow/tfjs-backend-wasm');
      tf.setBackend('wasm').then(() => require(${module}).startWasmThreads(2)).catch((e) => { console.log(e.message); });`);
    assert.match(late.out, /Expected to start the wasm backend with 2 thread\(s\) before it ran, but it already runs with 1/);
  });

  test('BIGBIGAN_WASM_THREADS starts the backend every command selects with that many threads; a bad value is one error', () => {
    const cli = path.join(DIST, 'cli.js');
    const run = (value: string) => spawnSync(process.execPath, [cli, 'backend'], {
      encoding: 'utf8', env: { ...process.env, BIGBIGAN_WASM_THREADS: value, BIGBIGAN_BACKEND: 'wasm' },
    });
    assert.match(run('2').stdout + run('2').stderr, /backend: wasm \([^,;]*, 2 threads[;)]/);
    assert.match(run('1').stdout + run('1').stderr, /backend: wasm \([^,;]*, 1 thread[;)]/);
    const bad = run('two');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /Expected BIGBIGAN_WASM_THREADS to be a whole number ≥ 1, but got 'two'/);
  });
});
