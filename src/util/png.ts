/**
 * PNG files of image grids (samples, reconstructions), written with Node's
 * zlib only, so the training path needs no image library (PNG spec:
 * https://www.w3.org/TR/png/ — signature, IHDR, one IDAT, IEND; filter 0).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import * as tf from '@tensorflow/tfjs';

const CRC_TABLE = Int32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});

function crc32(bytes: Uint8Array): number {
  let c = -1;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'ascii');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** Encodes 8-bit grey (1 channel) or RGB (3 channels) pixels, row-major HWC, as a PNG file's bytes. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Buffer {
  if (pixels.length !== width * height * channels) {
    throw new Error(`Expected ${width * height * channels} pixel bytes for ${width}x${height}x${channels}, but got ${pixels.length}`);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;                          // bit depth
  header[9] = channels === 1 ? 0 : 2;     // colour type: grey or RGB
  const stride = width * channels;
  const raw = Buffer.alloc((stride + 1) * height);  // each row: filter byte 0, then the row
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', new Uint8Array(0)),
  ]);
}

/**
 * Tiles images [N, H, W, C] with values in [-1, 1] into a grid of `cols`
 * columns separated by `gap` pixels of white, as 8-bit pixels. Reads the
 * images asynchronously (webgpu in Node cannot read synchronously).
 */
export async function gridPixels(images: tf.Tensor4D, cols: number,
                                 gap = 1): Promise<{ pixels: Uint8Array; width: number; height: number; channels: 1 | 3 }> {
  const [n, h, w, c] = images.shape;
  if (c !== 1 && c !== 3) throw new Error(`Expected images with 1 or 3 channels, but got ${c}`);
  const rows = Math.ceil(n / cols);
  const width = cols * w + (cols - 1) * gap, height = rows * h + (rows - 1) * gap;
  const pixels = new Uint8Array(width * height * c).fill(255);
  const values = await images.data();
  for (let i = 0; i < n; i++) {
    const top = Math.floor(i / cols) * (h + gap), left = (i % cols) * (w + gap);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * c; x++) {
        const v = values[((i * h + y) * w) * c + x];
        pixels[(top + y) * width * c + left * c + x] = Math.round(Math.min(1, Math.max(-1, v)) * 127.5 + 127.5);
      }
    }
  }
  return { pixels, width, height, channels: c };
}

/** Writes images [N, H, W, C] in [-1, 1] as one PNG grid (folders created as needed). */
export async function writeImageGrid(file: string, images: tf.Tensor4D, cols = Math.ceil(Math.sqrt(images.shape[0]))): Promise<void> {
  const { pixels, width, height, channels } = await gridPixels(images, cols);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, encodePng(pixels, width, height, channels));
}
