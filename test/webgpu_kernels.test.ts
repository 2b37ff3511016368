/**
 * Static check of the webgpu backend, which runs without a GPU: the kernels
 * that training (D and E/G steps, EMA, sample and reconstruction grids,
 * checkpoints), evaluation (`bigbigan eval`: dataset classifier, FID/IS, linear probe, k-NN
 * top-k, reconstructions), the benchmark and the demo call on wasm must all
 * be registered for 'webgpu' by @tensorflow/tfjs-backend-webgpu (kernels
 * register at import, with or without an adapter).
 *
 * Kernels only wasm has (the kit's FusedAdam and FusedEma, tfjs-wasm's
 * LogicalXor) are hidden while the work is recorded: the kit calls its fused
 * kernels only where the backend has them, so the recording is the path
 * webgpu takes (and a run that needed a hidden kernel would fail here).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { benchTraining } from '../src/train/bench';
import { Config } from '../src/config';
import { Dataset, loadMnist } from '../src/data';
import { runDemo } from '../src/cli/demo';
import { EvalSettings, evaluateCheckpoint } from '../src/eval/evaluate';
import { exclusiveKernels, kernelCoverage, kernelsUsed, syncReadsDuring, withoutKernels } from './kernels_used';
import { resolveConfig } from '../src/presets';
import { trainRun } from '../src/run/train_run';

const TINY: Partial<Config> = {
  zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16,
  eCh: 4, eMlp: 16, dCh: 8, dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 8,
  steps: 2, sampleEvery: 2, checkpointEvery: 2, evalEvery: 0,
};
const tiny = (over: Partial<Config> = {}): Config => ({ ...resolveConfig('mnist'), ...TINY, ...over });
const SETTINGS: EvalSettings = {
  samples: 24, realImages: 24, probeTrain: 40, probeEval: 16, reconstructions: 8, rawG: true, baselines: true,
};

/** Kernels (by name) and synchronous reads (by kit source line) of one piece of work. */
interface Recording { kernels: Map<string, number>; syncReads: Map<string, number> }

async function record(work: () => unknown): Promise<Recording> {
  let kernels = new Map<string, number>();
  const syncReads = await syncReadsDuring(async () => { kernels = await kernelsUsed(work); });
  return { kernels, syncReads };
}

describe('webgpu kernel coverage of the training, evaluation and benchmark paths', () => {
  const used: Record<string, Recording> = {};
  let hidden: string[] = [];
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    require('@tensorflow/tfjs-backend-webgpu');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'webgpu-kernels-'));
    const mnist: Dataset = loadMnist(undefined, { limit: 120 });
    const cacheDir = path.join(dir, 'cache');
    hidden = exclusiveKernels('wasm', ['cpu', 'webgpu']);
    await withoutKernels('wasm', hidden, async () => {
      // D and E/G steps, EMA, sample and reconstruction grids, a checkpoint
      used.train = await record(() => trainRun({ cfg: tiny(), out: path.join(dir, 'run'), quiet: true, dataset: mnist }));
      // `bigbigan eval`: the dataset classifier (trained), FID/IS, linear probe, k-NN top-k, reconstructions
      used.eval = await record(() => evaluateCheckpoint(path.join(dir, 'run'), SETTINGS,
                                                        { dataset: mnist, cacheDir, featureNetSteps: 2, quiet: true }));
      used.bench = await record(() => benchTraining(tiny(), { iters: 1, warmup: 0 }));
      const log = console.log, err = process.stderr.write;
      console.log = () => {};
      process.stderr.write = () => true;  // the demo's progress line
      try {
        used.demo = await record(() => runDemo({ steps: 2, batchSize: 8, out: path.join(dir, 'demo'), seed: 0 }));
      } finally {
        console.log = log;
        process.stderr.write = err;
      }
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the recording saw the training and evaluation kernels (convolutions and their gradients, k-NN top-k)', () => {
    const all = new Set(Object.values(used).flatMap((r) => [...r.kernels.keys()]));
    for (const name of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul', 'TopK']) {
      assert.ok(all.has(name), `Expected the recorded kernels to include ${name}, but got ${[...all].sort().join(', ')}`);
    }
    assert.ok(tf.getKernelsForBackend('webgpu').length > 100,
              'Expected @tensorflow/tfjs-backend-webgpu to register its kernels at import, ' +
              `but got ${tf.getKernelsForBackend('webgpu').length}`);
  });

  for (const part of ['train', 'eval', 'bench', 'demo']) {
    test(`every kernel of ${part} is registered for webgpu and reads nothing back synchronously itself`, (t) => {
      const c = kernelCoverage(used[part].kernels.keys(), 'webgpu');
      t.diagnostic(`${part}: ${c.used.length} kernels: ${c.used.join(' ')}`);
      if (hidden.length > 0) t.diagnostic(`hidden while recording (registered for wasm only): ${hidden.join(' ')}`);
      assert.deepEqual(c.missing, [],
                       `Expected every ${part} kernel to be registered for webgpu, but got these missing: ${c.missing.join(', ')}`);
      assert.deepEqual(c.readsSync, [],
                       `Expected no ${part} kernel to read back synchronously on webgpu, but got: ${c.readsSync.join(', ')}`);
    });
  }

  // tfjs-backend-webgpu reads synchronously through OffscreenCanvas, which Node lacks: a dataSync/arraySync
  // (or an op that calls one) anywhere on these paths would fail on webgpu, so the kit reads with `await tensor.data()`.
  test('the kit reads no tensor synchronously (webgpu in Node can only read asynchronously)', (t) => {
    const lines: string[] = [];
    for (const part of ['train', 'eval', 'bench', 'demo']) {
      for (const [where, n] of [...used[part].syncReads].sort()) lines.push(`${part}: ${where} ×${n}`);
    }
    for (const line of lines) t.diagnostic(line);
    assert.deepEqual(lines, [], `Expected no synchronous reads, but got ${lines.length} call sites`);
  });

  test('kernelCoverage reports a missing kernel and a kernel that reads back synchronously', () => {
    const c = kernelCoverage(['Conv2D', 'NoSuchKernel', 'NonMaxSuppressionV3', 'TopK'], 'webgpu');
    assert.deepEqual(c.missing, ['NoSuchKernel']);
    // TopK reads only values already on the CPU (its shouldExecuteOnCPU guard); NonMaxSuppression reads the GPU
    assert.deepEqual(c.readsSync, ['NonMaxSuppressionV3']);
  });

  test('syncReadsDuring names the kit line that read synchronously', async () => {
    const x = tf.tensor1d([1, 2, 3]);
    const reads = await syncReadsDuring(() => {
      x.dataSync();   // two reads on two lines: two sites
      x.arraySync();
      return x.data();  // asynchronous: not counted
    });
    x.dispose();
    const sites = [...reads.keys()];
    assert.equal(sites.length, 2, `Expected 2 synchronous read sites, but got ${sites.join('; ')}`);
    for (const s of sites) assert.match(s, /^test\/webgpu_kernels\.test\.js:\d+/);
  });
});
