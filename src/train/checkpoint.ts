/**
 * Checkpoints that survive a crash: one file per checkpoint,
 * `ckpt-<step>.bin`, written to a temporary name, flushed and renamed, so a
 * file with the final name is always complete; the newest K are kept.
 *
 * Layout: the 8 bytes "BBGCKPT1", a uint32 (little-endian) header length, a
 * JSON header { meta, tensors: [{ name, shape, offset }], dataBytes, checksum },
 * the float32 data of every tensor (offsets in bytes from the start of the
 * data), then the SHA-256 of everything before it (32 bytes). `checksum:
 * 'sha256'` says that trailer is there: a file cut short or changed after it
 * was written is refused, naming the file. Files written before the checksum
 * (no `checksum` key) still load, unverified; and a reader that predates it
 * loads the new files too (it ignores unknown header keys and trailing bytes).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { faultPoint } from './faults';
import { ensureFolder, fileError, writeFileAtomic } from '../util/fs_safe';

const MAGIC = 'BBGCKPT1';
const DIGEST_BYTES = 32;
const NAME = /^ckpt-(\d+)\.bin$/;

export interface CheckpointEntry {
  name: string;
  shape: number[];
  offset: number;
}

/** A checkpoint read back: its JSON metadata and its tensors' values by name. */
export interface Checkpoint<Meta> {
  file: string;
  meta: Meta;
  values: Map<string, { shape: number[]; data: Float32Array }>;
}

export function checkpointFile(dir: string, step: number): string {
  return path.join(dir, `ckpt-${String(step).padStart(8, '0')}.bin`);
}

/** The checkpoint files of `dir`, oldest first. */
export function listCheckpoints(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => NAME.test(f)).sort().map((f) => path.join(dir, f));
}

/** Bytes of tensor values read from the device at once while saving: bounds the staging copies webgpu makes. */
const READ_GROUP_BYTES = 64 << 20;

/**
 * Writes tensors and metadata atomically as checkpoint `step`; keeps the newest `keep` files.
 * Values are read asynchronously (webgpu in Node cannot read synchronously), a group of
 * tensors at a time; the caller must not change them or `meta` until the promise settles.
 */
export async function saveCheckpoint<Meta>(dir: string, step: number, meta: Meta, tensors: Array<[string, tf.Tensor]>,
                                           keep: number): Promise<string> {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`Expected to keep a whole number ≥ 1 of checkpoints, but got ${keep}`);
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32') throw new Error(`Expected float32 tensors in a checkpoint, but ${name} is ${t.dtype}`);
  }
  const entries: CheckpointEntry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (let start = 0; start < tensors.length;) {
    let end = start, bytes = 0;
    while (end < tensors.length && (end === start || bytes + 4 * tensors[end][1].size <= READ_GROUP_BYTES)) {
      bytes += 4 * tensors[end++][1].size;
    }
    const values = await Promise.all(tensors.slice(start, end).map(([, t]) => t.data() as Promise<Float32Array>));
    values.forEach((data, i) => {
      const [name, t] = tensors[start + i];
      chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      entries.push({ name, shape: t.shape, offset });
      offset += data.byteLength;
    });
    start = end;
  }
  const header = Buffer.from(JSON.stringify({ meta, tensors: entries, dataBytes: offset, checksum: 'sha256' }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const parts = [Buffer.from(MAGIC), length, header, ...chunks];
  const hash = crypto.createHash('sha256');
  for (const part of parts) hash.update(part);
  const file = checkpointFile(dir, step);
  ensureFolder(dir, 'the checkpoint folder');
  writeFileAtomic(file, [...parts, hash.digest()],
                  { midway: () => faultPoint('checkpoint-write'), beforeRename: () => faultPoint('checkpoint-rename') });
  for (const old of listCheckpoints(dir).slice(0, -keep)) {
    try {
      fs.rmSync(old);
    } catch (e) {
      throw fileError('remove the old checkpoint', old, e);
    }
  }
  return file;
}

/** A checkpoint file that cannot be used: cut short, changed after it was written, or not a checkpoint. */
export class DamagedCheckpointError extends Error {
  constructor(readonly file: string, what: string) {
    super(`Checkpoint ${file} is damaged: ${what}`);
    this.name = 'DamagedCheckpointError';
  }
}

/** Reads a checkpoint file; a damaged one gives one clear error naming it (DamagedCheckpointError). */
export function loadCheckpoint<Meta>(file: string): Checkpoint<Meta> {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw fileError('read the checkpoint', file, e);
  }
  const bad = (what: string) => new DamagedCheckpointError(file, what);
  if (bytes.length < 12 || bytes.subarray(0, 8).toString('latin1') !== MAGIC) throw bad(`expected it to start with ${MAGIC}`);
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) throw bad(`expected a ${headerLength}-byte header, but the file has ${bytes.length} bytes`);
  let header: { meta: Meta; tensors: CheckpointEntry[]; dataBytes?: number; checksum?: string };
  try {
    header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString());
  } catch (e) {
    throw bad(`its header is not JSON (${(e as Error).message})`);
  }
  let data = bytes.subarray(12 + headerLength);
  if (header.checksum !== undefined) {  // absent in files written before the checksum: read unverified
    const expected = 12 + headerLength + (header.dataBytes ?? NaN) + DIGEST_BYTES;
    if (bytes.length !== expected) throw bad(`expected ${expected} bytes, but it has ${bytes.length} (cut short or extended)`);
    const body = bytes.subarray(0, expected - DIGEST_BYTES);
    if (!crypto.createHash('sha256').update(body).digest().equals(bytes.subarray(body.length))) {
      throw bad('its SHA-256 checksum does not match its content (changed after it was written)');
    }
    data = data.subarray(0, header.dataBytes);
  }
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + 4 * size > data.length) {
      throw bad(`expected ${t.name} to end at byte ${t.offset + 4 * size} of the data, but the data has ${data.length}`);
    }
    const copy = new Float32Array(size);
    new Uint8Array(copy.buffer).set(data.subarray(t.offset, t.offset + 4 * size));
    values.set(t.name, { shape: t.shape, data: copy });
  }
  return { file, meta: header.meta, values };
}

/** The newest checkpoint of `dir`, or null when it has none. */
export function loadLatestCheckpoint<Meta>(dir: string): Checkpoint<Meta> | null {
  const files = listCheckpoints(dir);
  return files.length === 0 ? null : loadCheckpoint<Meta>(files[files.length - 1]);
}

/**
 * The newest checkpoint of `dir` that reads back intact, and the newer ones
 * that did not (each with its error); `ckpt` is null when none is intact.
 */
export function loadNewestIntact<Meta>(dir: string): { ckpt: Checkpoint<Meta> | null; damaged: DamagedCheckpointError[] } {
  const damaged: DamagedCheckpointError[] = [];
  for (const file of listCheckpoints(dir).reverse()) {
    try {
      return { ckpt: loadCheckpoint<Meta>(file), damaged };
    } catch (e) {
      if (!(e instanceof DamagedCheckpointError)) throw e;
      damaged.push(e);
    }
  }
  return { ckpt: null, damaged };
}
