/**
 * Bad input as a hostile user gives it, through the command line: each case asserts the exact
 * sentence, the exit code and the run folder afterwards (nothing half-written, nothing lost).
 * Recoveries (a stale lock, a damaged checkpoint, a torn metrics line, a run that died before its
 * first checkpoint) must end in the very folder an uninterrupted run leaves. Each case adds a row
 * "case | message | exit code | folder afterwards" to the test's diagnostics.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, SpawnSyncOptions } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULT_CONFIG } from '../src/config';
import { acquireLock } from '../src/run/lock';
import { encodePng } from '../src/util/png';
import { ABLATIONS, PRESETS } from '../src/presets';
import { checkpointData, cli, cliAsync, CliResult, metricsWithoutTimes, SMALL, snapshot } from './cli_fixture';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-'));
fs.chmodSync(root, 0o755);  // the unprivileged cases must reach their folders
const template = path.join(root, 'template');
const train = (out: string, ...more: string[]) => ['train', '--steps', '4', ...SMALL, '--out', out, ...more];
/** Options that run the CLI as an unprivileged user (root passes every permission check). */
const unprivileged: SpawnSyncOptions = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
/** Whether this process may mount a read-only file system in a private mount namespace (root, unshare). */
const canMountReadOnly = process.getuid?.() === 0 &&
  spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', `mount -t tmpfs -o ro,size=64k tmpfs "$0"`, root]).status === 0;

type After = 'unchanged' | 'absent' | 'as uninterrupted' | ((dir: string) => string);
interface Case {
  name: string;
  /** Makes the case's folder (default: none); returns the command. */
  setup: (dir: string) => string[];
  code: number;
  /** The whole line stderr (or stdout) must hold. */
  says: (dir: string) => string | RegExp;
  after: After;
  opts?: SpawnSyncOptions;
}

const copyTemplate = (dir: string) => fs.cpSync(template, dir, { recursive: true });
const ckpt = (dir: string, step: number) => path.join(dir, `ckpt-${String(step).padStart(8, '0')}.bin`);
/** Overwrites 64 bytes of `file` in place, inside the tensor data (past the header, whatever its length): the checksum fails. */
const overwrite64 = (file: string) => {
  const fd = fs.openSync(file, 'r+');
  const length = Buffer.alloc(4);
  fs.readSync(fd, length, 0, 4, 8);  // after the 8-byte magic: the header's length (checkpoint.ts)
  fs.writeSync(fd, Buffer.alloc(64, 0x41), 0, 64, 12 + length.readUInt32LE(0) + 1000);
  fs.closeSync(fd);
};
const keys = Object.keys(DEFAULT_CONFIG).join(', ');
const refused = (name: string, setting: string, message: string): Case =>
  ({ name, setup: (d) => train(d, '--set', setting), code: 2, says: () => `bigbigan: ${message}`, after: 'absent' });

/** A folder of 24 RGB images of 20x12 in two classes: not the size or channels of any preset. */
function writeOddImages(dir: string): void {
  for (let i = 0; i < 24; i++) {
    const pixels = Uint8Array.from({ length: 20 * 12 * 3 }, (_, k) => (k * 7 + i * 31) % 256);
    fs.mkdirSync(path.join(dir, `class-${i % 2}`), { recursive: true });
    fs.writeFileSync(path.join(dir, `class-${i % 2}`, `${i}.png`), encodePng(pixels, 20, 12, 3));
  }
}

/** A lock left by a killed process (a pid that ran and ended) on a finished run: taken over, and nothing else changes. */
function staleLockCase(): Case {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  return {
    name: 'a stale lock (its process was killed)', code: 0,
    setup: (d) => {
      copyTemplate(d);
      fs.writeFileSync(path.join(d, '.lock'), JSON.stringify({ pid, host: os.hostname(), procStart: null, token: 'x', since: 'then' }));
      return train(d, '--resume');
    },
    says: (d) => `[bigbigan] ${d} was locked by process ${pid} on ${os.hostname()}, which is no longer running: lock taken over`,
    after: (d) => {
      assert.deepEqual(snapshot(d), snapshot(template));
      return 'unchanged but for the lock, released ("nothing to train")';
    },
  };
}

const CASES: Case[] = [
  { name: 'unknown preset', setup: (d) => ['train', '--preset', 'mnsit', '--out', d], code: 2,
    says: () => `bigbigan: Expected a preset (${Object.keys(PRESETS).join(', ')}), but got 'mnsit'`, after: 'absent' },
  { name: 'unknown ablation', setup: (d) => ['train', '--ablation', 'tiny', '--out', d], code: 2,
    says: () => `bigbigan: Expected an ablation (${Object.keys(ABLATIONS).join(', ')}), but got 'tiny'`, after: 'absent' },
  refused('unknown config key', 'zdim=3', `Expected a config key (${keys}), but got 'zdim'`),
  refused('value of the wrong type', 'zDim=many', "Expected a whole number ≥ 1 for config key 'zDim', but got 'many'"),
  refused('keepCheckpoints=-1 (deleted every checkpoint)', 'keepCheckpoints=-1',
          "Expected a whole number ≥ 1 for config key 'keepCheckpoints', but got '-1'"),
  refused('checkpointEvery=0', 'checkpointEvery=0', "Expected a whole number ≥ 1 for config key 'checkpointEvery', but got '0'"),
  refused('sampleEvery=0', 'sampleEvery=0', "Expected a whole number ≥ 1 for config key 'sampleEvery', but got '0'"),
  refused('negative learning rate', 'lrG=-1e-4', "Expected a number > 0 for config key 'lrG', but got '-1e-4'"),
  refused('emaDecay=2', 'emaDecay=2', "Expected a number in [0, 1] for config key 'emaDecay', but got '2'"),
  refused('seed=1.5', 'seed=1.5', "Expected a whole number in [0, 2147483647] for config key 'seed', but got '1.5'"),
  refused('dSteps=0', 'dSteps=0', "Expected a whole number ≥ 1 for config key 'dSteps', but got '0'"),
  refused('beta1=1', 'beta1=1', "Expected a number in [0, 1) for config key 'beta1', but got '1'"),
  refused('channels that the dataset does not have', 'channels=3', "Expected channels 1 for dataset 'mnist', but got 3"),
  refused('attention on too few channels', 'dCh=4',
          'Expected dCh·dMults at the dAttention block (side 8) to be a multiple of 8 channels, but got 4·1 = 4 ' +
          '(set dAttention=0 for none)'),
  refused('--set without =', 'steps', "Expected --set key=value, but got 'steps'"),
  { name: '--steps 0', setup: (d) => ['train', '--steps', '0', '--out', d], code: 2,
    says: () => "bigbigan: Expected --steps to be a whole number ≥ 1, but got '0'", after: 'absent' },
  { name: '--steps -5 (was "argument is ambiguous")', setup: (d) => ['train', '--steps', '-5', '--out', d], code: 2,
    says: () => "bigbigan: Expected --steps to be a whole number ≥ 1, but got '-5'", after: 'absent' },
  { name: '--minutes 0', setup: (d) => train(d, '--minutes', '0'), code: 2,
    says: () => "bigbigan: Expected --minutes to be a number > 0, but got '0'", after: 'absent' },
  { name: 'unknown option', setup: (d) => ['train', '--frob', '--out', d], code: 2, after: 'absent',
    says: () => /^bigbigan: Unknown option '--frob'/ },
  { name: 'unknown command', setup: () => ['fly'], code: 2, after: 'absent',
    says: () => 'bigbigan: Expected a command ' +
                "(train, eval, sweep, worker, results, presets, params, bench, bench-kernels, demo, backend, help), but got 'fly'" },
  { name: '--out names a file (was ENOTDIR from scandir)', code: 1, after: 'unchanged',
    setup: (d) => { fs.mkdirSync(d); fs.writeFileSync(path.join(d, 'f'), 'mine'); return train(path.join(d, 'f')); },
    says: (d) => `bigbigan: Expected the run folder ${d}/f to be a folder, but it is a file` },
  { name: '--out under a file', code: 1, after: 'unchanged',
    setup: (d) => { fs.mkdirSync(d); fs.writeFileSync(path.join(d, 'f'), 'mine'); return train(path.join(d, 'f', 'run')); },
    says: (d) => `bigbigan: Could not reach the run folder ${d}/f/run: a part of the path is a file, not a folder (ENOTDIR)` },
  { name: 'a folder this user cannot write', opts: unprivileged, code: 1, after: 'unchanged',
    setup: (d) => { fs.mkdirSync(d, { mode: 0o555 }); fs.chmodSync(d, 0o555); return train(d); },
    says: (d) => `bigbigan: Could not write in ${d}: permission denied (EACCES)` },
  { name: 'an unreadable dataset folder (was "neither exists")', opts: unprivileged, code: 1, after: 'unchanged',
    setup: (d) => {
      fs.mkdirSync(path.join(d, 'data'), { recursive: true });
      fs.chmodSync(d, 0o777);
      fs.chmodSync(path.join(d, 'data'), 0o000);
      return train(path.join(d, 'run'), '--set', `dataPath=${d}/data`);
    },
    says: (d) => `bigbigan: Expected the mnist directory at ${d}/data to be readable, but got: permission denied (EACCES)` },
  { name: 'a missing dataset folder', code: 1, after: 'unchanged',
    setup: (d) => { fs.mkdirSync(d); return train(path.join(d, 'run'), '--set', `dataPath=${d}/nowhere`); },
    says: (d) => `bigbigan: Expected the mnist directory at ${d}/nowhere, but the path does not exist` },
  { name: 'a folder that holds a run, without --resume', setup: (d) => { copyTemplate(d); return train(d); }, code: 1, after: 'unchanged',
    says: (d) => `bigbigan: Output folder ${d} already holds a run: pass --resume to continue it, or choose another --out` },
  { name: '--resume into a missing folder', setup: (d) => train(d, '--resume'), code: 1, after: 'absent',
    says: (d) => `bigbigan: Expected a run to resume in ${d}, but the folder does not exist: start it without --resume` },
  { name: '--resume into a folder without a run', code: 1, after: 'unchanged',
    setup: (d) => { fs.mkdirSync(d); return train(d, '--resume'); },
    says: (d) => `bigbigan: Expected a run to resume in ${d}, but it holds none (no config.json, no checkpoint): ` +
                 'start it without --resume' },
  { name: '--resume with another config', code: 1, after: 'unchanged',
    setup: (d) => { copyTemplate(d); return train(d, '--resume', '--set', 'zDim=8'); },
    says: (d) => `bigbigan: Expected the config of the run in ${d}, but zDim differs` },
  { name: '--resume --steps 2 on a step-4 run (was "L_D undefined", config.json rewritten)', code: 1, after: 'unchanged',
    setup: (d) => { copyTemplate(d); return [...train(d, '--resume'), '--steps', '2']; },
    says: (d) => `bigbigan: Expected steps ≥ 4 to resume the run in ${d} (its newest intact checkpoint is at step 4), but got 2` },
  { name: 'every checkpoint damaged', code: 1, after: 'unchanged',
    setup: (d) => { copyTemplate(d); for (const s of [2, 4]) fs.truncateSync(ckpt(d, s), 40_000); return train(d, '--resume'); },
    says: (d) => `bigbigan: Expected an intact checkpoint to resume in ${d}, but all 2 are damaged ` +
                 `(newest: Checkpoint ${ckpt(d, 4)} is damaged: ` +
                 `expected ${fs.statSync(ckpt(template, 4)).size} bytes, but it has 40000 (cut short or extended)); ` +
                 'move them out of the folder to train the run again from step 0' },
  { name: 'a bad metrics line before the last', code: 1, after: 'unchanged',
    setup: (d) => {
      copyTemplate(d);
      const f = path.join(d, 'metrics.jsonl');
      const l = fs.readFileSync(f, 'utf8').split('\n');
      l[1] = 'garbage';
      fs.writeFileSync(f, l.join('\n'));
      fs.rmSync(ckpt(d, 4));
      return train(d, '--resume');
    },
    says: (d) => `bigbigan: Expected a JSON object with a step on every line of ${d}/metrics.jsonl, but line 2 is "garbage": ` +
                 'fix or remove that line, then resume' },
  { name: 'config.json that is not JSON, no checkpoint', code: 1, after: 'unchanged',
    setup: (d) => { fs.mkdirSync(d); fs.writeFileSync(path.join(d, 'config.json'), '{"zDim": 6,'); return train(d, '--resume'); },
    says: (d) => new RegExp(`^bigbigan: Expected ${d}/config\\.json to hold the run's config as JSON, but it does not \\(.*\\): ` +
                            'this run has no checkpoint to lose, so start it again without --resume$') },
  { name: 'eval of a checkpoint with 64 bytes overwritten', code: 1, after: 'unchanged',
    setup: (d) => { copyTemplate(d); overwrite64(ckpt(d, 4)); return ['eval', '--run', d, '--quick']; },
    says: (d) => `bigbigan: Checkpoint ${ckpt(d, 4)} is damaged: ` +
                 'its SHA-256 checksum does not match its content (changed after it was written)' },
  staleLockCase(),
  { name: 'a damaged newest checkpoint, --resume', code: 0, after: 'as uninterrupted',
    setup: (d) => { copyTemplate(d); overwrite64(ckpt(d, 4)); return train(d, '--resume'); },
    says: (d) => `[bigbigan] Checkpoint ${ckpt(d, 4)} is damaged: ` +
                 `its SHA-256 checksum does not match its content (changed after it was written); kept as ${ckpt(d, 4)}.damaged` },
  { name: 'a truncated newest checkpoint, --resume', code: 0, after: 'as uninterrupted',
    setup: (d) => { copyTemplate(d); fs.truncateSync(ckpt(d, 4), 5000); return train(d, '--resume'); },
    says: (d) => `[bigbigan] resuming from ${ckpt(d, 2)} (step 2), the newest intact checkpoint` },
  { name: 'a torn last metrics line (kill -9 or a full disk during the append)', code: 0, after: 'as uninterrupted',
    setup: (d) => { copyTemplate(d); const f = path.join(d, 'metrics.jsonl'); const l = fs.readFileSync(f, 'utf8').split('\n');
                    fs.writeFileSync(f, `${l[0]}\n${l[1]}\n${l[2].slice(0, 40)}`);
                    for (const n of ['ckpt-00000004.bin', 'samples-00000004.png', 'recon-00000004.png']) fs.rmSync(path.join(d, n));
                    return train(d, '--resume'); },
    says: (d) => `[bigbigan] dropped the torn last line of ${d}/metrics.jsonl (40 bytes an interrupted run left)` },
  { name: 'a run that died before its first checkpoint, started again', code: 0, after: 'as uninterrupted',
    setup: (d) => { fs.mkdirSync(d); fs.copyFileSync(path.join(template, 'config.json'), path.join(d, 'config.json'));
                    const firstLine = fs.readFileSync(path.join(template, 'metrics.jsonl'), 'utf8').split('\n')[0];
                    fs.writeFileSync(path.join(d, 'metrics.jsonl'), firstLine + '\n');
                    fs.writeFileSync(path.join(d, 'ckpt-00000002.bin.tmp-99999999'), 'half'); return train(d); },
    says: (d) => `[bigbigan] the run in ${d} stopped before its first checkpoint: ` +
                 'training it afresh from step 0 (its metrics and pictures are replaced)' },
  { name: 'a run that died before its first checkpoint, --resume', code: 0, after: 'as uninterrupted',
    setup: (d) => { fs.mkdirSync(d); fs.copyFileSync(path.join(template, 'config.json'), path.join(d, 'config.json'));
                    fs.writeFileSync(path.join(d, 'ckpt-00000002.bin.tmp-99999999'), 'half'); return train(d, '--resume'); },
    says: (d) => `[bigbigan] removed ${d}/ckpt-00000002.bin.tmp-99999999, a file an interrupted run left half-written` },
  { name: 'an image folder of 20x12 RGB images for a 16x16 grey model, 2 held-out images', code: 0,
    setup: (d) => { writeOddImages(path.join(d, 'images'));
                    return train(path.join(d, 'run'), '--steps', '2', '--set', 'dataset=imagefolder', '--set', `dataPath=${d}/images`); },
    says: () => 'reconstructions: none (fewer than 8 held-out images to show)',
    after: (d) => { const names = fs.readdirSync(path.join(d, 'run')).sort();
                    assert.deepEqual(names, ['ckpt-00000002.bin', 'config.json', 'metrics.jsonl', 'samples-00000002.png']);
                    return 'trained on 16x16x1 decodes: samples, no reconstruction grid'; } },
];

/** The folder afterwards, checked against the one before; a few words for the table. */
function checkAfter(after: After, dir: string, before: ReturnType<typeof snapshot>): string {
  if (typeof after === 'function') return after(dir);
  if (after === 'absent') {
    assert.equal(snapshot(dir), null);
    return 'not created';
  }
  if (after === 'unchanged') {
    assert.deepEqual(snapshot(dir), before);
    return 'unchanged';
  }
  const got = snapshot(dir)!, expected = snapshot(template)!;
  for (const name of Object.keys(got).filter((n) => n.endsWith('.damaged'))) delete got[name];
  delete got['metrics.jsonl'];
  delete expected['metrics.jsonl'];
  assert.deepEqual(got, expected);
  assert.deepEqual(metricsWithoutTimes(dir), metricsWithoutTimes(template));
  return 'as an uninterrupted run (bit for bit)';
}

function assertLine(r: CliResult, expected: string | RegExp): string {
  const lines = [...r.lines, ...r.out.split('\n')];
  const line = lines.find((l) => (typeof expected === 'string' ? l === expected : expected.test(l)));
  assert.ok(line !== undefined, `expected the line\n  ${expected}\nbut got\n  ${lines.join('\n  ')}`);
  return line;
}

describe('hostile input: one clear sentence, the right exit code, nothing lost', () => {
  before(() => {
    const r = cli(train(template));
    assert.equal(r.code, 0, r.lines.join('\n'));
  });

  CASES.forEach((c, i) => {
    test(c.name, (t) => {
      const dir = path.join(root, `case-${i}`);
      const args = c.setup(dir);
      const before = snapshot(dir);
      const r = cli(args, c.opts);
      const line = assertLine(r, c.says(dir));
      assert.equal(r.code, c.code, r.lines.join('\n'));
      const after = checkAfter(c.after, dir, before);
      t.diagnostic(`| ${c.name} | ${line.split(root).join('$TMP')} | ${r.code} | ${after} |`);
    });
  });

  test('a read-only file system (was ENOENT)', { skip: canMountReadOnly ? false : 'needs root and mount namespaces (unshare -m)' }, (t) => {
    const dir = path.join(root, 'read-only');
    fs.mkdirSync(dir);
    const mountReadOnly = ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t tmpfs -o ro,size=64k tmpfs "$0" && exec "$@"', dir];
    const cli = [process.execPath, path.join(__dirname, '..', 'src', 'cli.js'), ...train(path.join(dir, 'run'))];
    const ro = spawnSync('unshare', [...mountReadOnly, ...cli], { encoding: 'utf8' });
    const sentence = `bigbigan: Could not create the run folder ${dir}/run: the file system is read-only (EROFS)`;
    assert.ok(ro.stderr.split('\n').includes(sentence), ro.stderr);
    assert.equal(ro.status, 1);
    assert.deepEqual(fs.readdirSync(dir), []);
    t.diagnostic(`| a read-only file system | ${sentence.split(root).join('$TMP')} | 1 | not created |`);
  });

  test('a folder in use by a live process (two runs into one --out were mixed)', async (t) => {
    const dir = path.join(root, 'in-use');
    copyTemplate(dir);
    const lock = await acquireLock(dir);
    const before = snapshot(dir);
    const r = cli(train(dir, '--resume'));
    assert.deepEqual(snapshot(dir), before);
    lock.release();
    const sentence = `bigbigan: Run folder ${dir} is in use by process ${process.pid} on ${os.hostname()} (since ${lock.owner.since}): ` +
                     'one process at a time writes a folder; wait for that one to end, or stop it';
    assertLine(r, sentence);
    assert.equal(r.code, 1);
    const sweep = path.join(root, 'sweep-in-use');
    fs.mkdirSync(sweep);
    const sweepLock = await acquireLock(sweep);
    const s = cli(['sweep', '--rows', 'base', '--seeds', '1', '--steps', '2', '--out', sweep]);
    sweepLock.release();
    assertLine(s, new RegExp(`^bigbigan: Sweep folder ${sweep} is in use by process ${process.pid} on `));
    assert.equal(s.code, 1);
    assert.deepEqual(fs.readdirSync(sweep), []);
    t.diagnostic(`| a folder in use by a live process | ${sentence.split(root).join('$TMP')} | 1 | unchanged |`);
  });

  test('two trainings started at once into one folder: one trains, the other is refused; nothing is mixed', async () => {
    const dir = path.join(root, 'race');
    const [a, b] = await Promise.all(['1', '2'].map((seed) => cliAsync(train(dir, '--set', `seed=${seed}`)).done));
    const winner = [a, b].findIndex((r) => r.code === 0);
    assert.ok(winner >= 0 && [a, b][1 - winner].code === 1, `${a.code} ${b.code}`);
    assert.ok([a, b][1 - winner].lines.some((l) => / is in use by process | already holds a run: /.test(l)));
    assert.deepEqual(metricsWithoutTimes(dir).map((l) => (l as { step: number }).step), [1, 2, 3, 4]);
    assert.equal((checkpointData(ckpt(dir, 4)).meta as { config: { seed: number } }).config.seed, winner + 1);
  });
});
