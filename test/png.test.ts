/** PNG grids (src/util/png.ts) decoded by an independent reader (sharp / libvips). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { encodePng, writeImageGrid } from '../src/util/png';

async function decode(file: string | Buffer) {
  const meta = await sharp(file).metadata();  // channels as stored in the file
  const image = meta.channels === 1 ? sharp(file).toColourspace('b-w') : sharp(file);
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels };
}

describe('png', () => {
  test('grey and RGB pixels survive an encode/decode round trip', async () => {
    for (const channels of [1, 3] as const) {
      const width = 7, height = 5;
      const pixels = Uint8Array.from({ length: width * height * channels }, (_, i) => (i * 37 + 11) % 256);
      const decoded = await decode(encodePng(pixels, width, height, channels));
      assert.deepEqual([decoded.width, decoded.height, decoded.channels], [width, height, channels]);
      assert.deepEqual(decoded.data, pixels);
    }
  });

  test('a grid places each image in its cell, maps [-1, 1] to [0, 255] and leaves white gaps', async () => {
    await tf.setBackend('cpu');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'png-'));
    const file = path.join(dir, 'sub', 'grid.png');
    const images = tf.tensor4d([-1, 1, 0, 0.5, /* second image */ 1, 1, -1, -1, /* third */ 0, 0, 0, 0], [3, 2, 2, 1]);
    await writeImageGrid(file, images, 2);
    images.dispose();
    const { data, width, height } = await decode(file);
    assert.deepEqual([width, height], [5, 5]);  // 2 columns and 2 rows of 2 px with a 1 px gap
    const at = (x: number, y: number) => data[y * width + x];
    assert.deepEqual([at(0, 0), at(1, 0), at(0, 1), at(1, 1)], [0, 255, 128, 191]);
    assert.deepEqual([at(3, 0), at(4, 0), at(3, 1), at(4, 1)], [255, 255, 0, 0]);
    assert.deepEqual([at(0, 3), at(1, 4)], [128, 128]);
    assert.deepEqual([at(2, 0), at(0, 2), at(3, 3)], [255, 255, 255]);  // gap and the empty fourth cell
    fs.rmSync(dir, { recursive: true });
  });

  test('a pixel count that does not match the size is an error', () => {
    assert.throws(() => encodePng(new Uint8Array(5), 2, 2, 1), /Expected 4 pixel bytes for 2x2x1, but got 5/);
  });
});
