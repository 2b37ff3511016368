/**
 * Turns raw split bytes into float tensors: pixel p becomes p / 127.5 - 1 in
 * [-1, 1] (the range of G's tanh output), placed on a canvas of the target
 * resolution, with optional per-example shift (random crop) and mirror (flip).
 * Everything except the bilinear resize is plain JS on the host, so a batch
 * costs one upload.
 */
import * as tf from '@tensorflow/tfjs';
import { exampleSize, Split } from './dataset';
import { DatasetError } from './errors';

/**
 * How to reach `resolution`: 'pad' centres the image on a canvas of
 * background (-1, i.e. pixel 0; MNIST 28 → 32 adds 2 px per side; needs
 * resolution ≥ the source size), 'resize' resamples bilinearly with
 * tf.image.resizeBilinear (half-pixel centres).
 */
export type ResizeMode = 'pad' | 'resize';

/** Target geometry of rendered tensors. */
export interface RenderOptions {
  /** Side of the square output; default: the split's own size (no change). */
  resolution?: number;
  /** Default 'pad'. */
  resize?: ResizeMode;
}

/**
 * Per-example augmentation, in canvas pixels and applied before any resize:
 * the image moves by (dy, dx) with background filling the gap (pad-then-crop),
 * and is mirrored left-right where flip[k] is 1.
 */
export interface Augmentation {
  dy: Int32Array;
  dx: Int32Array;
  flip: Uint8Array;
}

/** The value of background pixels (pixel 0). */
export const BACKGROUND = -1;

/** pixel → pixel / 127.5 - 1, for all 256 byte values. */
const TO_UNIT = Float32Array.from({ length: 256 }, (_, p) => p / 127.5 - 1);

/** Maps a pixel byte to [-1, 1]. */
export function toUnit(pixel: number): number {
  return TO_UNIT[pixel];
}

/** Canvas the examples are drawn on, and the final side if a resize follows. */
export interface Canvas {
  height: number;
  width: number;
  top: number;
  left: number;
  resizeTo?: number;
}

/** The canvas for `split` under `opts`; throws a DatasetError for impossible options. */
export function canvasFor(split: Split, opts: RenderOptions): Canvas {
  const { height, width } = split;
  const r = opts.resolution;
  const mode = opts.resize ?? 'pad';
  if (mode !== 'pad' && mode !== 'resize') throw new DatasetError(`Expected resize 'pad' or 'resize', but got '${mode}'`);
  if (r === undefined || (r === height && r === width)) return { height, width, top: 0, left: 0 };
  if (!Number.isInteger(r) || r < 1) throw new DatasetError(`Expected a positive whole resolution, but got ${r}`);
  if (mode === 'resize') return { height, width, top: 0, left: 0, resizeTo: r };
  if (r < height || r < width) {
    throw new DatasetError(
      `Expected resolution ≥ ${Math.max(height, width)} to pad ${height}x${width} images, but got ${r} (use resize: 'resize')`);
  }
  return { height: r, width: r, top: (r - height) >> 1, left: (r - width) >> 1 };
}

/**
 * Renders the examples at `indices` as a float32 tensor in [-1, 1],
 * [B, R, R, C] (or [B, H, W, C] without resolution). The caller disposes it.
 */
export function renderBatch(split: Split, indices: ArrayLike<number>, opts: RenderOptions = {}, aug?: Augmentation): tf.Tensor4D {
  const cv = canvasFor(split, opts);
  const { height: H, width: W, channels: C, images } = split;
  const B = indices.length;
  const outSize = cv.height * cv.width * C;
  const out = new Float32Array(B * outSize).fill(BACKGROUND);
  for (let k = 0; k < B; k++) {
    const src = indices[k] * exampleSize(split);
    const top = cv.top + (aug ? aug.dy[k] : 0);
    const left = cv.left + (aug ? aug.dx[k] : 0);
    const flip = aug ? aug.flip[k] === 1 : false;
    for (let y = 0; y < H; y++) {
      const ty = y + top;
      if (ty < 0 || ty >= cv.height) continue;
      for (let x = 0; x < W; x++) {
        const tx = x + left;
        if (tx < 0 || tx >= cv.width) continue;
        const s = src + (y * W + (flip ? W - 1 - x : x)) * C;
        const d = k * outSize + (ty * cv.width + tx) * C;
        for (let c = 0; c < C; c++) out[d + c] = TO_UNIT[images[s + c]];
      }
    }
  }
  return tf.tidy(() => {
    const x = tf.tensor4d(out, [B, cv.height, cv.width, C]); // [B, H', W', C]
    return cv.resizeTo ? tf.image.resizeBilinear(x, [cv.resizeTo, cv.resizeTo], false, true) : x; // [B, R, R, C]
  });
}

/** Options of splitToTensor. */
export interface SplitTensorOptions extends RenderOptions {
  /** Take only the first n examples; default all. */
  n?: number;
}

/**
 * A whole split (or its first n examples) as one float32 tensor in [-1, 1],
 * in order and without augmentation, for evaluation. The caller disposes it.
 */
export function splitToTensor(split: Split, opts: SplitTensorOptions = {}): tf.Tensor4D {
  const n = Math.min(split.count, opts.n ?? split.count);
  return renderBatch(split, Int32Array.from({ length: n }, (_, i) => i), opts);
}
