/**
 * Checkpoints that survive a crash: one file per checkpoint,
 * `ckpt-<step>.bin`, written to a temporary name, flushed and renamed, so a
 * file with the final name is always complete; the newest K are kept.
 *
 * Layout: the 8 bytes "BBGCKPT1", a uint32 (little-endian) header length, a
 * JSON header { meta, tensors: [{ name, shape, offset }] }, then the float32
 * data of every tensor (offsets in bytes from the start of the data).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';

const MAGIC = 'BBGCKPT1';
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
export async function saveCheckpoint<Meta>(dir: string, step: number, meta: Meta, tensors: Array<[string, tf.Tensor]>, keep: number): Promise<string> {
  for (const [name, t] of tensors) {
    if (t.dtype !== 'float32') throw new Error(`Expected float32 tensors in a checkpoint, but ${name} is ${t.dtype}`);
  }
  const entries: CheckpointEntry[] = [];
  const chunks: Buffer[] = [];
  let offset = 0;
  for (let start = 0; start < tensors.length;) {
    let end = start, bytes = 0;
    while (end < tensors.length && (end === start || bytes + 4 * tensors[end][1].size <= READ_GROUP_BYTES)) bytes += 4 * tensors[end++][1].size;
    const values = await Promise.all(tensors.slice(start, end).map(([, t]) => t.data() as Promise<Float32Array>));
    values.forEach((data, i) => {
      const [name, t] = tensors[start + i];
      chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      entries.push({ name, shape: t.shape, offset });
      offset += data.byteLength;
    });
    start = end;
  }
  const header = Buffer.from(JSON.stringify({ meta, tensors: entries }));
  const length = Buffer.alloc(4);
  length.writeUInt32LE(header.length);
  const file = checkpointFile(dir, step);
  const tmp = `${file}.tmp`;
  fs.mkdirSync(dir, { recursive: true });
  const fd = fs.openSync(tmp, 'w');
  try {
    for (const part of [Buffer.from(MAGIC), length, header, ...chunks]) fs.writeSync(fd, part);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  for (const old of listCheckpoints(dir).slice(0, -keep)) fs.rmSync(old);
  return file;
}

/** Reads a checkpoint file; a damaged one gives one clear error naming it. */
export function loadCheckpoint<Meta>(file: string): Checkpoint<Meta> {
  const bytes = fs.readFileSync(file);
  const bad = (what: string) => new Error(`Checkpoint ${file} is damaged: ${what}`);
  if (bytes.length < 12 || bytes.subarray(0, 8).toString() !== MAGIC) throw bad(`expected it to start with ${MAGIC}`);
  const headerLength = bytes.readUInt32LE(8);
  if (12 + headerLength > bytes.length) throw bad(`expected a ${headerLength}-byte header, but the file has ${bytes.length} bytes`);
  let header: { meta: Meta; tensors: CheckpointEntry[] };
  try {
    header = JSON.parse(bytes.subarray(12, 12 + headerLength).toString());
  } catch (e) {
    throw bad(`its header is not JSON (${(e as Error).message})`);
  }
  const data = bytes.subarray(12 + headerLength);
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + 4 * size > data.length) throw bad(`expected ${t.name} to end at byte ${t.offset + 4 * size} of the data, but the data has ${data.length}`);
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
