/** Presets, ablation rows and --set overrides (src/presets.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CONFIG } from '../src/config';
import { ABLATIONS, PRESETS, resolveConfig } from '../src/presets';
import { selectBackend } from '../src/backend/select';
import { countParameters } from '../src/model/bigbigan';
import { checkLossConfig } from '../src/model/losses';

test('preset -> ablation -> settings, in that order', () => {
  const cfg = resolveConfig('bench32', 'deterministic-e', ['batchSize=8', 'latent=uniform', 'gMults=2,2,1,1', 'augmentFlip=true']);
  assert.equal(cfg.zDim, 64);                 // from the preset
  assert.equal(cfg.eStochastic, false);       // from the ablation
  assert.equal(cfg.batchSize, 8);             // overrides the preset's 64
  assert.equal(cfg.latent, 'uniform');
  assert.deepEqual(cfg.gMults, [2, 2, 1, 1]);
  assert.equal(cfg.augmentFlip, true);
  assert.deepEqual(resolveConfig(), { ...DEFAULT_CONFIG });
});

test('every ablation row changes only keys the Config has', () => {
  for (const [name, row] of Object.entries({ ...ABLATIONS, ...PRESETS })) {
    for (const key of Object.keys(row.delta)) assert.ok(key in DEFAULT_CONFIG, `${name} sets unknown key ${key}`);
  }
});

test('every ablation row differs from Base on every trained preset; small-e / small-g halve the preset\'s unit', () => {
  for (const preset of ['mnist', 'fashion', 'cifar10', 'bench32']) {
    const base = JSON.stringify(resolveConfig(preset));
    // resnet-x1 is Base's own encoder on the ResNet presets (as in the paper's table); `paper` is Base on bench32,
    // whose objective is the paper's already.
    const same = (r: string) => (r === 'resnet-x1' && resolveConfig(preset).eArch === 'resnet') || (r === 'paper' && preset === 'bench32');
    for (const row of Object.keys(ABLATIONS).filter((r) => r !== 'base' && !same(r))) {
      assert.notEqual(JSON.stringify(resolveConfig(preset, row)), base, `${preset}/${row} equals Base`);
    }
    assert.equal(resolveConfig(preset, 'small-e').eCh * 2, resolveConfig(preset).eCh);
    assert.equal(resolveConfig(preset, 'small-g').gCh * 2, resolveConfig(preset).gCh);
  }
});

test('every ablation row builds its networks on every trained preset (G, E and D shapes agree)', async () => {
  await selectBackend({ force: 'wasm', quiet: true });
  for (const preset of ['mnist', 'fashion', 'cifar10', 'bench32']) {
    for (const row of Object.keys(ABLATIONS)) {
      const cfg = resolveConfig(preset, row);
      assert.doesNotThrow(() => countParameters({ ...cfg, init: 'normal' }), `${preset}/${row} does not build`);
      assert.doesNotThrow(() => checkLossConfig(cfg), `${preset}/${row}: no loss term reaches G`);
    }
  }
});

test('unknown names, keys and wrongly typed values are one clear error each', () => {
  assert.throws(() => resolveConfig('mnsit'), /Expected a preset \(mnist, .*\), but got 'mnsit'/);
  assert.throws(() => resolveConfig('mnist', 'tiny-e'), /Expected an ablation \(base, .*\), but got 'tiny-e'/);
  assert.throws(() => resolveConfig('mnist', 'base', ['lr=3']), /Expected a config key \(.*\), but got 'lr'/);
  assert.throws(() => resolveConfig('mnist', 'base', ['steps=ten']), /Expected a whole number ≥ 1 for config key 'steps', but got 'ten'/);
  assert.throws(() => resolveConfig('mnist', 'base', ['eStochastic=yes']),
                /Expected true or false for config key 'eStochastic', but got 'yes'/);
  assert.throws(() => resolveConfig('mnist', 'base', ['unary=half']),
                /Expected one of both, x, z, none for config key 'unary', but got 'half'/);
  assert.throws(() => resolveConfig('mnist', 'base', ['gMults=4,x']),
                /Expected a comma-separated list of whole numbers ≥ 1 for config key 'gMults', but got '4,x'/);
  assert.throws(() => resolveConfig('mnist', 'base', ['steps']), /Expected --set key=value, but got 'steps'/);
});

test('bench32 has exactly the PyTorch reference parameter counts (G 143,394, E 423,296, D 371,572)', async () => {
  const { selectBackend } = await import('../src/backend/select');
  const { countParameters } = await import('../src/model/bigbigan');
  await selectBackend({ force: 'wasm', quiet: true });
  const c = countParameters(resolveConfig('bench32'));
  assert.deepEqual([c.G, c.E!.trunk + c.E!.head, c.D], [143_394, 423_296, 371_572]);
});

test('typed overrides (a notebook) and --set strings (the CLI) resolve to the same config through the same checks', () => {
  const fromStrings = resolveConfig('mnist', 'small-e', ['lrG=0.0001', 'unary=x', 'gMults=4,2,2,1', 'eStochastic=false']);
  const fromValues = resolveConfig('mnist', 'small-e', [], { lrG: 1e-4, unary: 'x', gMults: [4, 2, 2, 1], eStochastic: false });
  assert.deepEqual(fromValues, fromStrings);
  assert.notDeepEqual(fromValues, resolveConfig('mnist', 'small-e'));  // the overrides took effect
  // typed values come after the strings
  assert.equal(resolveConfig('mnist', 'base', ['zDim=8'], { zDim: 12 }).zDim, 12);
  assert.throws(() => resolveConfig('mnist', 'base', [], { unary: 'xz' }),
                /Expected one of both, x, z, none for config key 'unary', but got 'xz'/);
  assert.throws(() => resolveConfig('mnist', 'base', [], { lrG: Infinity }), /config key 'lrG'/);
  assert.throws(() => resolveConfig('mnist', 'base', [], { lr: 3 }), /Expected a config key \(.*\), but got 'lr'/);
});
