/** Checkpoint files (src/checkpoint.ts): round trip, pruning, atomic names and damaged files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { listCheckpoints, loadCheckpoint, loadLatestCheckpoint, saveCheckpoint } from '../src/checkpoint';

test('tensors and metadata survive a round trip; only the newest K are kept; temporary files never count', async () => {
  await tf.setBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
  const a = tf.tensor2d([[1.5, -2], [3, 4e-8]]), b = tf.scalar(7);
  for (const step of [10, 20, 30]) await saveCheckpoint(dir, step, { step, note: 'x' }, [['a', a], ['net/b', b]], 2);
  fs.writeFileSync(path.join(dir, 'ckpt-00000040.bin.tmp'), 'half-written');
  assert.deepEqual(listCheckpoints(dir).map((f) => path.basename(f)), ['ckpt-00000020.bin', 'ckpt-00000030.bin']);
  const latest = loadLatestCheckpoint<{ step: number; note: string }>(dir)!;
  assert.deepEqual(latest.meta, { step: 30, note: 'x' });
  assert.deepEqual(latest.values.get('a')!.shape, [2, 2]);
  assert.deepEqual(Array.from(latest.values.get('a')!.data), Array.from(a.dataSync()));
  assert.deepEqual(Array.from(latest.values.get('net/b')!.data), [7]);
  tf.dispose([a, b]);
  fs.rmSync(dir, { recursive: true });
});

test('a damaged checkpoint is one clear error naming the file', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
  const t = tf.ones([100]);
  const file = await saveCheckpoint(dir, 1, {}, [['t', t]], 3);
  t.dispose();
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 8));
  assert.throws(() => loadCheckpoint(file), new RegExp(`Checkpoint ${file} is damaged: expected t to end at byte 400 of the data, but the data has 392`));
  fs.writeFileSync(file, Buffer.from('not a checkpoint at all'));
  assert.throws(() => loadCheckpoint(file), /is damaged: expected it to start with BBGCKPT1/);
  fs.rmSync(dir, { recursive: true });
});
