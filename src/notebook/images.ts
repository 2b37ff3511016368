/**
 * Pictures for notebooks: PNG bytes for tslab.display.png, grids of image
 * tensors (optionally enlarged), the real images of a split as a run's E sees
 * them, a run's picture files, and a small ImageNet-style folder of PNGs
 * written from a split (to try the imagefolder loader without ImageNet).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { exampleSize, renderBatch, Split } from '../data';
import { renderOptionsFor } from '../eval/features';
import { encodePng, gridPixels } from '../util/png';

/** The bytes of a PNG file (for tslab.display.png). */
export function readPng(file: string): Uint8Array {
  return new Uint8Array(fs.readFileSync(file));
}

/** 8-bit pixels (HWC) enlarged `scale` times by pixel replication. */
export function upscale(pixels: Uint8Array, width: number, height: number, channels: number, scale: number): Uint8Array {
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`Expected a whole scale ≥ 1, but got ${scale}`);
  if (scale === 1) return pixels;
  const out = new Uint8Array(width * scale * height * scale * channels);
  const rowBytes = width * scale * channels;
  for (let y = 0; y < height; y++) {
    const row = out.subarray(y * scale * rowBytes, (y * scale + 1) * rowBytes);
    for (let x = 0; x < width; x++) {
      const px = pixels.subarray((y * width + x) * channels, (y * width + x + 1) * channels);
      for (let s = 0; s < scale; s++) row.set(px, (x * scale + s) * channels);
    }
    for (let s = 1; s < scale; s++) out.copyWithin((y * scale + s) * rowBytes, y * scale * rowBytes, (y * scale + 1) * rowBytes);
  }
  return out;
}

/** Images [N, H, W, C] in [-1, 1] as a PNG grid of `cols` columns, each pixel drawn `scale` x `scale` (default 2). */
export async function gridPng(images: tf.Tensor4D, cols: number, opts: { scale?: number } = {}): Promise<Uint8Array> {
  const { pixels, width, height, channels } = await gridPixels(images, cols);
  const scale = opts.scale ?? 2;
  return new Uint8Array(encodePng(upscale(pixels, width, height, channels, scale), width * scale, height * scale, channels));
}

/** Writes PNG bytes to `file` (folders created) and returns the bytes, to display and keep a picture in one call. */
export function savePng(file: string, png: Uint8Array): Uint8Array {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, png);
  return png;
}

/** The examples `indices` of `split`, rendered as the run of `cfg` feeds them to E (no augmentation). [n, eRes, eRes, C] in [-1, 1] */
export function imagesOf(split: Split, indices: ArrayLike<number>, cfg: Config): tf.Tensor4D {
  for (let k = 0; k < indices.length; k++) {
    if (!(indices[k] >= 0 && indices[k] < split.count)) throw new Error(`Expected indices in [0, ${split.count}), but got ${indices[k]}`);
  }
  return renderBatch(split, indices, renderOptionsFor(cfg, split));
}

/**
 * The first `perClass` examples of each class of `split`, round-robin: the
 * first of class 0, 1, ..., numClasses-1, then the second of each, and so on
 * (so that any row of a grid shows different classes).
 */
export function firstOfEachClass(split: Split, numClasses: number, perClass = 1): number[] {
  const picked: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < split.count; i++) {
    const list = picked[split.labels[i]];
    if (list !== undefined && list.length < perClass) list.push(i);
  }
  const out: number[] = [];
  for (let r = 0; r < perClass; r++) for (const list of picked) if (r < list.length) out.push(list[r]);
  return out;
}

/** A run's `samples-<step>.png` or `recon-<step>.png` files with their steps, oldest first. */
export function picturesOf(runDir: string, kind: 'samples' | 'recon'): Array<{ step: number; file: string }> {
  if (!fs.existsSync(runDir)) return [];
  const re = new RegExp(`^${kind}-(\\d+)\\.png$`);
  return fs.readdirSync(runDir).map((f) => re.exec(f)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ step: Number(m[1]), file: path.join(runDir, m[0]) })).sort((a, b) => a.step - b.step);
}

/**
 * Writes `perClass` images of each class of `split` as PNG files into an
 * ImageNet-style folder: `<root>/<class>/<index>.png` (class names from
 * `classNames`, else `class-<id>`). Returns the number of files written.
 */
export function writeImageFolder(root: string, split: Split, perClass: number, classNames?: string[]): number {
  const size = exampleSize(split);
  if (split.channels !== 1 && split.channels !== 3) throw new Error(`Expected 1 or 3 channels, but got ${split.channels}`);
  const counts = new Map<number, number>();
  let written = 0;
  for (let i = 0; i < split.count; i++) {
    const label = split.labels[i];
    const n = counts.get(label) ?? 0;
    if (n >= perClass) continue;
    counts.set(label, n + 1);
    const dir = path.join(root, classNames?.[label] ?? `class-${label}`);
    fs.mkdirSync(dir, { recursive: true });
    const pixels = split.images.subarray(i * size, (i + 1) * size);
    const file = path.join(dir, `${String(i).padStart(6, '0')}.png`);
    fs.writeFileSync(file, encodePng(pixels, split.width, split.height, split.channels as 1 | 3));
    written++;
  }
  return written;
}
