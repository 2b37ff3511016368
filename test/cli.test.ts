/** The command line (src/cli.ts) as a user runs it: clear errors, listings, parameter counts, a tiny run. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { COMMANDS } from '../src/cli';

const CLI = path.join(__dirname, '..', 'src', 'cli.js');
function run(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, BIGBIGAN_BACKEND: 'wasm' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bigbigan CLI', () => {
  test('bad input is one clear error with exit code 2 and nothing written', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-'));
    const cases: Array<[string[], RegExp]> = [
      [['train', '--preset', 'mnsit', '--out', out], /bigbigan: Expected a preset \(mnist, .*\), but got 'mnsit'/],
      [['train', '--ablation', 'tiny', '--out', out], /Expected an ablation \(base, .*\), but got 'tiny'/],
      [['train', '--set', 'zdim=3', '--out', out], /Expected a config key \(.*\), but got 'zdim'/],
      [['train', '--set', 'zDim=many', '--out', out], /Expected a whole number ≥ 1 for config key 'zDim', but got 'many'/],
      [['train', '--steps', '0', '--out', out], /Expected --steps to be a whole number ≥ 1, but got '0'/],
      [['train', '--frob'], /Unknown option '--frob'/],
      [['eval', '--run', out, '--checkpoint', '7'], /Expected a checkpoint of step 7 in .*, but it has none/],
      [['eval'], /Expected --run DIR \(a run folder\) or a checkpoint file, but got none/],
      [['eval', '--run', path.join(out, 'nowhere')],
       /Expected --run to name a run folder or checkpoint file, but .*nowhere does not exist/],
      [['fly'], new RegExp(/Expected a command \(train, eval, sweep, worker, results, presets, params, /.source +
                           /bench, bench-kernels, demo, backend, help\), but got 'fly'/.source)],
      [['sweep', '--grid', 'lr', '--out', path.join(out, 'sw')], /Expected --grid ablations \(the paper's Table 1 rows\), but got 'lr'/],
      [['sweep', '--rows', 'base,wide-g', '--out', path.join(out, 'sw')], /Expected ablation rows \(.*\), but got wide-g/],
      [['sweep', '--seeds', '0', '--out', path.join(out, 'sw')], /Expected --seeds to be a whole number ≥ 1, but got '0'/],
      [['worker'], /Expected --queue redis:\/\/HOST:PORT, but got none/],
      [['results'], /Expected a sweep folder or results file: bigbigan results DIR/],
      [['results', path.join(out, 'none')], /Expected a results table at .*none, but it does not exist/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 2, `one error line and a usage hint: ${r.err}`);
    }
    assert.deepEqual(fs.readdirSync(out), []);
  });

  test('every command has its own usage: `bigbigan <command> --help` and `bigbigan help <command>`', () => {
    for (const c of COMMANDS) {
      const viaFlag = run(c.name, '--help'), viaHelp = run('help', c.name);
      assert.equal(viaFlag.code, 0, `${c.name} --help: ${viaFlag.err}`);
      assert.equal(viaHelp.code, 0, `help ${c.name}: ${viaHelp.err}`);
      assert.equal(viaFlag.out, viaHelp.out);
      assert.match(viaFlag.out, new RegExp(`^Usage: bigbigan ${c.name}\\b`));
      for (const option of Object.keys(c.options)) {
        assert.match(viaFlag.out, new RegExp(`--${option}\\b`), `${c.name} --help lists --${option}`);
      }
    }
    const all = run('help');
    assert.equal(all.code, 0);
    for (const c of COMMANDS) assert.match(all.out, new RegExp(`^  ${c.name} `, 'm'));
  });

  test("an option a command does not take is an error naming that command's options", () => {
    const r = run('train', '--seeds', '5');
    assert.equal(r.code, 2);
    assert.match(r.err, new RegExp(/^bigbigan: Unknown option '--seeds' for 'bigbigan train': /.source +
                                   /it takes --preset, --ablation, --set, --steps, --out, --resume, --minutes, --backend\n/.source));
    assert.match(r.err, /Run 'bigbigan help train' for usage/);
    const presets = run('presets', '--out', 'x');
    assert.equal(presets.code, 2);
    assert.match(presets.err, /Unknown option '--out' for 'bigbigan presets': it takes no option/);
    assert.equal(run('help', 'fly').code, 2);
  });

  test('presets lists every preset and ablation row; params reports bench32 exactly', () => {
    const listing = run('presets');
    assert.equal(listing.code, 0);
    for (const name of ['mnist', 'bench32', 'imagenet128', 'deterministic-e', 'no-unaries', 'revnet-x4', 'e-lr-1x']) {
      assert.match(listing.out, new RegExp(`\\b${name}\\b`));
    }
    const params = run('params', '--preset', 'bench32');
    assert.equal(params.code, 0, params.err);
    assert.match(params.out, /G 143,394; E 423,296 \(trunk 291,584, MLP head 131,712\); D 371,572; total 938,262/);
  });

  test('train runs a tiny configuration end to end and says where its pictures are', () => {
    const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-')), 'run');
    const r = run('train', '--steps', '2', '--out', out, '--set', 'batchSize=4', '--set', 'sampleEvery=1', '--set', 'evalEvery=0');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`samples: ${out}/samples-00000002\\.png`));
    for (const f of ['config.json', 'metrics.jsonl', 'samples-00000001.png', 'recon-00000002.png', 'ckpt-00000002.bin']) {
      assert.ok(fs.existsSync(path.join(out, f)), f);
    }
    const again = run('train', '--steps', '2', '--out', out);
    assert.equal(again.code, 1);
    assert.match(again.err, /already holds a run: pass --resume to continue it/);
  });
});
