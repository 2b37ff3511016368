/**
 * `bigbigan bench` (src/train/bench.ts) on a tiny configuration: the JSON report has
 * every field with finite numbers and a flat tensor count, the profile names
 * kernels, and the PyTorch comparison finds its script, passes the same
 * counts, computes the ratio and fails clearly without python3 or torch.
 * No timing is asserted: speed is what the command measures, not what the
 * tests check.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findTorchReference, runTorchReference, torchMismatch } from '../src/train/bench';
import { resolveConfig } from '../src/presets';
import { requireOptional } from './optional';

const CLI = path.join(__dirname, '..', 'src', 'cli.js');
const PYTHON = '/usr/bin/python3';
/** bench32 shrunk to seconds: 16x16 images, narrow networks, batch 8. */
const TINY = ['zDim=6', 'gCh=4', 'gMults=2,2,1', 'gAttention=8', 'resolution=16', 'eResolution=16', 'eCh=4', 'eMlp=16',
              'dCh=8', 'dMults=1,2', 'dAttention=8', 'dMlp=16', 'batchSize=8'].flatMap((s) => ['--set', s]);

function bench(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, 'bench', '--iters', '1', ...TINY, ...args],
                      { encoding: 'utf8', env: { ...process.env, BIGBIGAN_BACKEND: 'wasm', ...env } });
  assert.equal(r.status, 0, `Expected bench to succeed, but it exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function assertFiniteFields(o: Record<string, unknown>, fields: string[]) {
  for (const f of fields) {
    assert.equal(typeof o[f], 'number', `Expected a number in field ${f}, but got ${JSON.stringify(o[f])}`);
    assert.ok(Number.isFinite(o[f]) && (o[f] as number) >= 0, `Expected a finite field ${f}, but got ${o[f]}`);
  }
}

/** A stand-in for torch_reference.py that prints a fixed JSON line and the arguments it was given. */
function fakeReference(dir: string): string {
  const file = path.join(dir, 'torch_reference.py');
  fs.writeFileSync(file, 'import json, sys\nprint("warming up")\nprint(json.dumps({"impl": "pytorch-cpu", "torch": "fake", "threads": 2, ' +
                         '"batch": 8, "d_step_ms": 1.0, "eg_step_ms": 3.0, "iter_ms": 4.0, "img_per_s": 2000.0, "argv": sys.argv[1:]}))\n');
  return file;
}

describe('bigbigan bench', () => {
  test('--json reports every figure, finite, with a flat tensor count; --profile names the top kernels', () => {
    const lines = bench(['--json', '--profile']).trim().split('\n');
    assert.equal(lines.length, 1, `Expected one JSON line, but got ${lines.length}`);
    const r = JSON.parse(lines[0]);
    assertFiniteFields(r, ['d_step_ms', 'eg_step_ms', 'iter_ms', 'img_per_s', 'iter_cpu_ms', 'threads', 'batch', 'iters', 'warmup',
                           'peak_rss_mib', 'rss_before_mib', 'rss_after_mib', 'tensors_before', 'tensors_after']);
    assert.equal(r.backend, 'wasm');
    assert.ok(r.rss_before_mib <= r.peak_rss_mib && r.rss_after_mib <= r.peak_rss_mib, 'Expected RSS readings below the peak');
    // Where the native kernels are built (CI requires them), the bench names them.
    if (requireOptional()) assert.match(r.native, /^oneDNN [\d.]+, /);
    assert.equal(r.batch, 8);
    assert.equal(r.iters, 1);
    assert.equal(r.tensors_after, r.tensors_before, 'Expected no tensor to leak over the timed steps');
    assert.ok(Math.abs(r.iter_ms - (r.d_step_ms + r.eg_step_ms)) <= 0.11);
    assert.ok(Math.abs(r.img_per_s - (r.batch * 1000) / r.iter_ms) <= 0.1 + 0.01 * r.img_per_s);
    for (const step of ['d_step', 'eg_step']) {
      const p = r.profile[step];
      assertFiniteFields(p, ['total_ms']);
      assert.ok(p.kernels.length > 0 && p.kernels.length <= 15, `Expected 1 to 15 kernels, but got ${p.kernels.length}`);
      for (const k of p.kernels) assertFiniteFields(k, ['ms', 'calls']);
      assert.ok(p.kernels.some((k: { kernel: string }) => k.kernel === 'Conv2D'), `Expected Conv2D among the top kernels of ${step}`);
    }
  });

  test('--compare-torch runs the reference with the same counts and prints the ratio',
       { skip: !fs.existsSync(PYTHON) && `no ${PYTHON}` }, () => {
    const script = fakeReference(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-')));
    const r = JSON.parse(bench(['--json', '--compare-torch'], { BIGBIGAN_TORCH_REFERENCE: script }));
    assert.deepEqual(r.torch.argv, ['--threads', '2', '--iters', '1', '--warmup', '2']);
    assert.equal(r.ratio_iter_ms, Math.round((r.iter_ms / 4.0) * 100) / 100);
    assert.match(r.warning, new RegExp(/Expected bench32's configuration for --compare-torch .*, /.source +
                                       /but resolution, eResolution, zDim, .* batchSize differ: the ratio compares different work/.source));
    const text = bench(['--compare-torch'], { BIGBIGAN_TORCH_REFERENCE: script });
    assert.match(text, /PyTorch +d_step 1 ms, eg_step 3 ms, iter 4 ms/);
    assert.match(text, /ratio iter_ms ours\/PyTorch: \d+(\.\d+)?/);
  });

  test('only bench32 itself (any seed, data or schedule) compares with the reference without a warning', () => {
    assert.equal(torchMismatch(resolveConfig('bench32')), null);
    assert.equal(torchMismatch({ ...resolveConfig('bench32'), seed: 7, steps: 5, dataset: 'fashion' }), null);
    assert.match(torchMismatch(resolveConfig('mnist')) ?? '', /but zDim, gCh, eArch, .* differ/);
    assert.match(torchMismatch({ ...resolveConfig('bench32'), batchSize: 32 }) ?? '', /but batchSize differ/);
  });

  test('the reference script is found by env, beside the repository, or in it; else a clear error', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'repo-'));
    const repo = path.join(root, 'main');
    fs.mkdirSync(repo);
    assert.throws(() => findTorchReference(repo, {}),
                  /Expected torch_reference\.py at .*shared\/bench\/torch_reference\.py or .*main\/torch_reference\.py .*, but found none/);
    const local = fakeReference(repo);
    assert.equal(findTorchReference(repo, {}), local);
    fs.mkdirSync(path.join(root, 'shared', 'bench'), { recursive: true });
    const shared = fakeReference(path.join(root, 'shared', 'bench'));
    assert.equal(findTorchReference(repo, {}), shared);
    assert.equal(findTorchReference(repo, { BIGBIGAN_TORCH_REFERENCE: local }), local);
    assert.throws(() => findTorchReference(repo, { BIGBIGAN_TORCH_REFERENCE: path.join(root, 'nope.py') }),
                  /Expected BIGBIGAN_TORCH_REFERENCE to name torch_reference\.py, but .*nope\.py does not exist/);
  });

  test('without python3 or without torch the error says how to install it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
    const script = fakeReference(dir);
    assert.throws(() => runTorchReference({ iters: 1, warmup: 0, script, python: path.join(dir, 'python3') }),
                  /Expected .*python3 for the PyTorch reference \(apt-get install -y python3-torch\), but it does not exist/);
    const noTorch = path.join(dir, 'python-without-torch');
    fs.writeFileSync(noTorch, '#!/bin/sh\necho "ModuleNotFoundError: No module named \'torch\'" >&2\nexit 1\n', { mode: 0o755 });
    assert.throws(() => runTorchReference({ iters: 1, warmup: 0, script, python: noTorch }),
                  /Expected PyTorch for .*python-without-torch, but it is not installed: apt-get install -y python3-torch/);
  });
});
