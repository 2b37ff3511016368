/** Checkpoint files (src/train/checkpoint.ts): round trip, pruning, atomic names, checksums, damaged and older files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { listCheckpoints, loadCheckpoint, loadLatestCheckpoint, loadNewestIntact, saveCheckpoint } from '../src/train/checkpoint';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));

/** Writes a file as the kit wrote checkpoints before they had a checksum (header without `checksum`, no trailer). */
function writeWithoutChecksum(file: string, meta: object, name: string, values: number[]): void {
  const header = Buffer.from(JSON.stringify({ meta, tensors: [{ name, shape: [values.length], offset: 0 }] }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  fs.writeFileSync(file, Buffer.concat([Buffer.from('BBGCKPT1'), length, header, Buffer.from(Float32Array.from(values).buffer)]));
}

/** The reader of the kit before checksums (main at 5407fb3), reduced: magic, header, tensors at offsets; trailing bytes ignored. */
function readLikeBefore(file: string): Map<string, number[]> {
  const bytes = fs.readFileSync(file);
  assert.equal(bytes.subarray(0, 8).toString(), 'BBGCKPT1');
  const headerLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString()) as {
    tensors: Array<{ name: string; shape: number[]; offset: number }>;
  };
  const data = bytes.subarray(12 + headerLength);
  return new Map(header.tensors.map((t) => {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const copy = new Float32Array(size);
    new Uint8Array(copy.buffer).set(data.subarray(t.offset, t.offset + 4 * size));
    return [t.name, Array.from(copy)];
  }));
}

test('tensors and metadata survive a round trip; only the newest K are kept; temporary files never count; no tensor leaks', async () => {
  await tf.setBackend('cpu');
  const dir = tmp();
  const a = tf.tensor2d([[1.5, -2], [3, 4e-8]]), b = tf.scalar(7);
  const before = tf.memory().numTensors;
  for (const step of [10, 20, 30]) await saveCheckpoint(dir, step, { step, note: 'x' }, [['a', a], ['net/b', b]], 2);
  assert.equal(tf.memory().numTensors, before);
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

test('keeping fewer than one checkpoint is refused before anything is written or removed', async () => {
  const dir = tmp();
  const t = tf.ones([3]);
  await saveCheckpoint(dir, 1, {}, [['t', t]], 3);
  for (const keep of [0, -1, 1.5]) {
    await assert.rejects(saveCheckpoint(dir, 2, {}, [['t', t]], keep),
                         new RegExp(`Expected to keep a whole number ≥ 1 of checkpoints, but got ${keep}`));
  }
  t.dispose();
  assert.deepEqual(fs.readdirSync(dir), ['ckpt-00000001.bin']);
  fs.rmSync(dir, { recursive: true });
});

test('a damaged checkpoint is one clear error naming the file: bytes overwritten, cut short, not a checkpoint', async () => {
  const dir = tmp();
  const t = tf.ones([100]);
  const file = await saveCheckpoint(dir, 1, {}, [['t', t]], 3);
  t.dispose();
  const bytes = fs.readFileSync(file);
  const changed = Buffer.from(bytes);
  changed.fill(0x41, bytes.length - 200, bytes.length - 136);  // 64 bytes inside the data, the header left intact
  fs.writeFileSync(file, changed);
  assert.throws(() => loadCheckpoint(file),
                new RegExp(`^DamagedCheckpointError: Checkpoint ${file} is damaged: ` +
                           'its SHA-256 checksum does not match its content \\(changed after it was written\\)$'));
  fs.writeFileSync(file, bytes.subarray(0, bytes.length - 8));
  assert.throws(() => loadCheckpoint(file),
                new RegExp(`Checkpoint ${file} is damaged: ` +
                           `expected ${bytes.length} bytes, but it has ${bytes.length - 8} \\(cut short or extended\\)`));
  fs.writeFileSync(file, Buffer.from('not a checkpoint at all'));
  assert.throws(() => loadCheckpoint(file), /is damaged: expected it to start with BBGCKPT1/);
  fs.rmSync(dir, { recursive: true });
});

test('files written before checksums still load; files with checksums load in the reader that predates them', async () => {
  const dir = tmp();
  const old = path.join(dir, 'ckpt-00000005.bin');
  writeWithoutChecksum(old, { step: 5 }, 'w', [1, 2, 3]);
  const read = loadCheckpoint<{ step: number }>(old);
  assert.deepEqual([read.meta.step, Array.from(read.values.get('w')!.data)], [5, [1, 2, 3]]);
  const t = tf.tensor1d([0.25, -8]);
  const file = await saveCheckpoint(dir, 6, { step: 6 }, [['w', t]], 3);
  t.dispose();
  assert.deepEqual(readLikeBefore(file).get('w'), [0.25, -8]);
  fs.rmSync(dir, { recursive: true });
});

test('loadNewestIntact passes over damaged newer checkpoints and names each', async () => {
  const dir = tmp();
  const t = tf.ones([10]);
  for (const step of [1, 2, 3]) await saveCheckpoint(dir, step, { step }, [['t', t]], 5);
  t.dispose();
  const [, second, third] = listCheckpoints(dir);
  fs.truncateSync(third, 30);
  fs.appendFileSync(second, 'x');
  const { ckpt, damaged } = loadNewestIntact<{ step: number }>(dir);
  assert.equal(ckpt?.meta.step, 1);
  assert.deepEqual(damaged.map((d) => d.file), [third, second]);
  for (const f of listCheckpoints(dir)) fs.truncateSync(f, 4);
  assert.equal(loadNewestIntact(dir).ckpt, null);
  fs.rmSync(dir, { recursive: true });
});
