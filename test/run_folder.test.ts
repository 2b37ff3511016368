/**
 * What keeps a run folder whole (src/run/lock.ts, src/run/folder.ts, src/util/fs_safe.ts, src/run/train_run.ts), in
 * process: the lock's rules for live, dead, reused and remote owners; a full disk (writes to
 * /dev/full) during a checkpoint and during a metrics line; a torn metrics line; image folders
 * decoded as the config asks. Failing runs leave no tensor behind.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backend/select';
import { loadCheckpoint } from '../src/train/checkpoint';
import { Config } from '../src/config';
import { Dataset, loadMnist } from '../src/data';
import { acquireLock, LOCK_NAME, LOCK_STALE_MS } from '../src/run/lock';
import { encodePng } from '../src/util/png';
import { resolveConfig } from '../src/presets';
import { trainRun } from '../src/run/train_run';
import { loadRunDataset } from '../src/train/run_data';
import { readMetricsLines } from '../src/run/folder';
import { TINY } from './sweep_fixture';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'folder-'));
const tiny = (over: Partial<Config> = {}): Config =>
  ({ ...resolveConfig('mnist', 'base', [...TINY, 'evalEvery=0', 'diagEvery=0', 'checkpointEvery=2', 'sampleEvery=2', 'steps=4']),
     ...over });
const writeLock = (dir: string, owner: object) =>
  fs.writeFileSync(path.join(dir, LOCK_NAME), JSON.stringify({ token: 't', since: 'then', procStart: null, ...owner }));

describe('folder lock', () => {
  test('a live owner is refused; a dead, reused or silent remote owner is taken over, and the new owner is told whose', async () => {
    const dir = tmp();
    const first = await acquireLock(dir);
    await assert.rejects(acquireLock(dir, { what: 'Run folder' }),
                         new RegExp(`^Error: Run folder ${dir} is in use by process ${process.pid} on ${os.hostname()} \\(since `));
    first.release();
    assert.equal(fs.existsSync(path.join(dir, LOCK_NAME)), false, 'released: removed');

    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    writeLock(dir, { pid: dead, host: os.hostname() });
    const afterDead = await acquireLock(dir);
    assert.equal(afterDead.tookOver?.pid, dead);
    afterDead.release();

    writeLock(dir, { pid: process.pid, host: os.hostname(), procStart: '1' });  // this pid, but a process started at another time
    const afterReuse = await acquireLock(dir);
    assert.equal(afterReuse.tookOver?.procStart, '1');
    afterReuse.release();

    writeLock(dir, { pid: 1, host: 'elsewhere' });
    await assert.rejects(acquireLock(dir), /is in use by process 1 on elsewhere/, 'a remote owner that touched it lately holds it');
    const old = new Date(Date.now() - LOCK_STALE_MS - 1000);
    fs.utimesSync(path.join(dir, LOCK_NAME), old, old);
    const afterRemote = await acquireLock(dir);
    assert.equal(afterRemote.tookOver?.host, 'elsewhere');
    afterRemote.release();
  });

  test('an owner whose lock was taken stops at its next refresh; an empty lock is waited for, then taken', async () => {
    const dir = tmp();
    const mine = await acquireLock(dir);
    writeLock(dir, { pid: 4242, host: 'other-host', token: 'theirs' });
    assert.throws(() => mine.refresh(),
                  /^Error: Lost the lock of .* to process 4242 on other-host \(since then\): stopping before writing anything more$/);
    mine.release();
    assert.ok(fs.existsSync(path.join(dir, LOCK_NAME)), 'release leaves another owner\'s lock alone');
    fs.writeFileSync(path.join(dir, LOCK_NAME), '');  // created, not yet written (or its writer was killed in between)
    const t0 = Date.now();
    const next = await acquireLock(dir);
    assert.ok(Date.now() - t0 >= 1500, 'a fresh empty lock is someone writing it: waited');
    next.release();
  });
});

describe('a run in a folder', () => {
  let mnist: Dataset;
  before(async () => {
    await selectBackend({ force: 'wasm', quiet: true });
    mnist = loadMnist(undefined, { limit: 300 });
  });

  /** Trains `tiny()` in a new folder, turning `file` into a link to /dev/full (a full disk) after step `atStep`. */
  async function fullDiskAt(atStep: number, name: (out: string) => string): Promise<{ out: string; error: Error }> {
    const out = tmp();
    const onStep = (step: number) => {
      if (step !== atStep) return;
      fs.rmSync(name(out), { force: true });
      fs.symlinkSync('/dev/full', name(out));
    };
    const before = tf.memory().numTensors;
    const error = await trainRun({ cfg: tiny(), out, quiet: true, dataset: mnist, onStep })
      .then(() => new Error('trained'), (e: Error) => e);
    assert.equal(tf.memory().numTensors, before, 'a failed run leaves no tensor behind');
    return { out, error };
  }

  test('a full disk during a checkpoint: the file, the reason and the last good checkpoint are named; no temporary file is left',
       { skip: !fs.existsSync('/dev/full') }, async () => {
    const { out, error } = await fullDiskAt(4, (o) => path.join(o, `ckpt-00000004.bin.tmp-${process.pid}`));
    assert.equal(error.message, `Could not write ${out}/ckpt-00000004.bin: no space left on device (ENOSPC). ` +
                                `The last good checkpoint is ${out}/ckpt-00000002.bin.`);
    assert.deepEqual(fs.readdirSync(out).filter((n) => n.startsWith('ckpt-') || n === LOCK_NAME), ['ckpt-00000002.bin']);
    assert.equal(loadCheckpoint<{ step: number }>(path.join(out, 'ckpt-00000002.bin')).meta.step, 2);
    const resumed = await trainRun({ cfg: tiny(), out, quiet: true, dataset: mnist, resume: true });
    assert.equal(resumed.step, 4);
  });

  test('a full disk during a metrics line: named the same way', { skip: !fs.existsSync('/dev/full') }, async () => {
    const { out, error } = await fullDiskAt(3, (o) => path.join(o, 'metrics.jsonl'));
    assert.equal(error.message, `Could not append to ${out}/metrics.jsonl: no space left on device (ENOSPC). ` +
                                `The last good checkpoint is ${out}/ckpt-00000002.bin.`);
    assert.equal(fs.existsSync(path.join(out, LOCK_NAME)), false);
    fs.rmSync(path.join(out, 'metrics.jsonl'));
  });

  test('a torn last line is set apart; a bad line before it is an error naming the file and the line', () => {
    const dir = tmp(), file = path.join(dir, 'metrics.jsonl');
    fs.writeFileSync(file, '{"step":1}\n{"step":2,"kind":"diag"}\n{"step":3,"L_');
    assert.deepEqual(readMetricsLines(file), {
      lines: [{ text: '{"step":1}', step: 1, kind: undefined }, { text: '{"step":2,"kind":"diag"}', step: 2, kind: 'diag' }],
      torn: '{"step":3,"L_',
    });
    fs.writeFileSync(file, '{"step":1}\n{"st\n{"step":3}\n');
    assert.throws(() => readMetricsLines(file), {
      message: `Expected a JSON object with a step on every line of ${file}, but line 2 is "{\\"st": fix or remove that line, then resume`,
    });
    assert.deepEqual(readMetricsLines(path.join(dir, 'none.jsonl')), { lines: [], torn: null });
  });

  test('an image folder is decoded at the configured resolution and channels, whatever its images\' size', async () => {
    const dir = tmp();
    for (let i = 0; i < 6; i++) {
      fs.mkdirSync(path.join(dir, `c${i % 2}`), { recursive: true });
      fs.writeFileSync(path.join(dir, `c${i % 2}`, `${i}.png`), encodePng(new Uint8Array(20 * 12 * 3).fill(40 * i), 20, 12, 3));
    }
    const shape = (d: Dataset) => [d.train.height, d.train.width, d.train.channels];
    const grey16 = await loadRunDataset(tiny({ dataset: 'imagefolder', dataPath: dir }));
    assert.deepEqual(shape(grey16), [16, 16, 1]);
    const rgb64 = await loadRunDataset({ ...tiny({ dataset: 'imagefolder', dataPath: dir, channels: 3 }), eResolution: 64 });
    assert.deepEqual(shape(rgb64), [64, 64, 3], 'E\'s side when it is the larger');
  });
});
