/**
 * The one validation of a configuration (src/config_check.ts): every key has a range, a value outside
 * it is refused with the same sentence on every path (--set, notebook overrides, a whole config as a
 * sweep job or a queue worker hands it to trainRun), and keys that must agree are checked together.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Config, CONFIG_RANGES, DEFAULT_CONFIG, KeyRange } from '../src/config';
import { checkValue, describeRange, parseSetting, validateConfig } from '../src/config_check';
import * as nb from '../src/notebook';
import { resolveConfig } from '../src/presets';
import { trainRun } from '../src/run/train_run';

/** Values just outside a range (as typed after --set key=, and as a notebook would pass them). */
function outside(r: KeyRange): Array<[string, unknown]> {
  switch (r.kind) {
    case 'int': return [[String(r.min - 1), r.min - 1], [`${r.min}.5`, r.min + 0.5],
                        ...(r.max === undefined ? [] : [[String(r.max + 1), r.max + 1]] as Array<[string, unknown]>)];
    case 'number': return [[String(r.openMin ? r.min : r.min - 1), r.openMin ? r.min : r.min - 1], ['Infinity', Infinity], ['NaN', NaN],
      ...(r.max === undefined ? [] : [[String(r.openMax ? r.max : r.max + 1), r.openMax ? r.max : r.max + 1]] as Array<[string, unknown]>)];
    case 'bool': return [['yes', 'yes']];
    case 'choice': return [['nope', 'nope']];
    case 'ints': return [['2,0', [2, 0]], ['', []]];
    case 'string': return [];  // any text (a path) is accepted; its use is checked where it is read
  }
}

test('every config key has a range, and every value outside it is refused by --set, overrides and validateConfig alike', () => {
  assert.deepEqual(Object.keys(CONFIG_RANGES).sort(), Object.keys(DEFAULT_CONFIG).sort());
  let refused = 0;
  for (const [key, r] of Object.entries(CONFIG_RANGES) as Array<[keyof Config, KeyRange]>) {
    assert.doesNotThrow(() => checkValue(key, DEFAULT_CONFIG[key]), `the default of ${key} is in its range`);
    for (const [typed, value] of outside(r)) {
      const expected = r.kind === 'ints' ? `a comma-separated list of whole numbers ≥ ${r.min}` : describeRange(r);
      const sentence = `Expected ${expected} for config key '${key}', but got '${typed}'`;
      assert.throws(() => parseSetting(key, typed), { message: sentence }, `--set ${key}=${typed}`);
      assert.throws(() => resolveConfig('mnist', 'base', [`${key}=${typed}`]), { message: sentence });
      const range = describeRange(r).replace(/[()[\]]/g, '\\$&');
      assert.throws(() => checkValue(key, value), new RegExp(`^Error: Expected ${range} for config key '${key}', but got `));
      assert.throws(() => validateConfig({ ...DEFAULT_CONFIG, [key]: value }), /^Error: Expected .* for config key/);
      refused++;
    }
  }
  assert.ok(refused > 80, `${refused} refusals`);
});

test('the issue\'s cases: each refused with one sentence naming the key and the value', () => {
  const cases: Array<[string, string]> = [
    ['keepCheckpoints=-1', "Expected a whole number ≥ 1 for config key 'keepCheckpoints', but got '-1'"],
    ['steps=0', "Expected a whole number ≥ 1 for config key 'steps', but got '0'"],
    ['checkpointEvery=0', "Expected a whole number ≥ 1 for config key 'checkpointEvery', but got '0'"],
    ['sampleEvery=0', "Expected a whole number ≥ 1 for config key 'sampleEvery', but got '0'"],
    ['lrD=-1e-4', "Expected a number > 0 for config key 'lrD', but got '-1e-4'"],
    ['emaDecay=2', "Expected a number in [0, 1] for config key 'emaDecay', but got '2'"],
    ['seed=1.5', "Expected a whole number in [0, 2147483647] for config key 'seed', but got '1.5'"],
    ['dSteps=0', "Expected a whole number ≥ 1 for config key 'dSteps', but got '0'"],
    ['beta1=1', "Expected a number in [0, 1) for config key 'beta1', but got '1'"],
    ['channels=2', "Expected one of 1, 3 for config key 'channels', but got '2'"],
  ];
  for (const [setting, message] of cases) assert.throws(() => resolveConfig('mnist', 'base', [setting]), { message });
});

test('notebook overrides are held to the CLI\'s ranges: no other configuration is trained than the one asked', () => {
  const spec: nb.RunSpec = { preset: 'mnist', steps: 10 };
  const cases: Array<[Partial<Config>, string]> = [
    [{ unary: 'xz' as never }, "Expected one of both, x, z, none for config key 'unary', but got 'xz'"],
    [{ latent: 'laplace' as never }, "Expected one of gaussian, uniform for config key 'latent', but got 'laplace'"],
    [{ lrG: Infinity }, "Expected a number > 0 for config key 'lrG', but got Infinity"],
    [{ init: 'xavier' as never }, "Expected one of ortho, normal for config key 'init', but got 'xavier'"],
    [{ gCh: '4' as never }, "Expected a whole number ≥ 1 for config key 'gCh', but got '4'"],
    [{ gMults: 4 as never }, "Expected a non-empty list of whole numbers ≥ 1 for config key 'gMults', but got 4"],
    [{ gch: 4 } as never, `Expected a config key (${Object.keys(DEFAULT_CONFIG).join(', ')}), but got 'gch'`],
  ];
  for (const [overrides, message] of cases) assert.throws(() => nb.runConfig({ ...spec, overrides }), { message });
  assert.throws(() => nb.runConfig({ ...spec, steps: 0 }), { message: "Expected a whole number ≥ 1 for config key 'steps', but got 0" });
});

test('keys that must agree are checked together, before anything is built', () => {
  const cases: Array<[string[], RegExp]> = [
    [['channels=3'], /^Error: Expected channels 1 for dataset 'mnist', but got 3$/],
    [['resolution=64'], /^Error: Expected resolution = 4 \* 2\^\(gMults.length - 1\) = 32 for gMults \[4,4,2,1\], but got resolution=64$/],
    [['eResolution=48'], /^Error: Expected eResolution to be a whole multiple of resolution \(32\), but got 48$/],
    [['dAttention=12'], /^Error: Expected dAttention to be 0 or a block resolution of F \(16, 8, 4\), but got 12$/],
    [['dCh=4'], new RegExp(/^Error: Expected dCh·dMults at the dAttention block \(side 16\) to be a multiple of 8 channels, /.source +
                           /but got 4·1 = 4 \(set dAttention=0 for none\)$/.source)],
    [['gCh=2'], new RegExp(/^Error: Expected gCh·gMults at the gAttention block \(side 16\) to be a multiple of 8 channels, /.source +
                           /but got 2·2 = 4 \(set gAttention=0 for none\)$/.source)],
    [['unary=z', 'gJointWeight=0'], /^Error: Expected gJointWeight > 0 or a unary term on x/],
  ];
  for (const [settings, message] of cases) assert.throws(() => resolveConfig('mnist', 'base', settings), message, settings.join(' '));
  assert.doesNotThrow(() => resolveConfig('mnist', 'base', ['dCh=4', 'dAttention=0']));
});

test('a whole config handed to trainRun (a sweep job, a queue worker) is validated before any folder is touched', async () => {
  const cfg = { ...DEFAULT_CONFIG, keepCheckpoints: -1 };
  await assert.rejects(trainRun({ cfg, out: '/nonexistent/never-created', quiet: true }),
                       { message: "Expected a whole number ≥ 1 for config key 'keepCheckpoints', but got -1" });
  const { seed: _, ...partial } = DEFAULT_CONFIG;
  assert.throws(() => validateConfig(partial), { message: 'Expected every config key, but seed is missing' });
  assert.throws(() => validateConfig({ ...DEFAULT_CONFIG, extra: 1 }), /^Error: Expected a config key \(.*\), but got 'extra'$/);
});
