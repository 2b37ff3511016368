/**
 * Image-folder loader on PNG and JPEG files written here with sharp: exact PNG
 * pixels, approximate JPEG pixels, sorted class ids, cover-resize, grey
 * channel, the train/val convention, limit, and bad input.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import sharp from 'sharp';
import { loadImageFolder } from '../src/data/imagefolder';

/** Writes an image from raw HWC bytes; the format follows the extension (png, jpg/jpeg, any case). */
async function writeImage(file: string, pixels: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<void> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const img = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  const jpeg = /\.jpe?g$/i.test(file);
  fs.writeFileSync(file, await (jpeg ? img.jpeg({ quality: 95 }) : img.png()).toBuffer());
}

/** A w x h RGB image filled by f(x, y) → [r, g, b]. */
function rgb(w: number, h: number, f: (x: number, y: number) => number[]): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out.set(f(x, y), (y * w + x) * 3);
  return out;
}

const gradient = (seed: number) => rgb(8, 8, (x, y) => [(x * 30 + seed) % 256, (y * 30 + seed) % 256, (x * y + seed) % 256]);
const solid = (c: number[]) => rgb(8, 8, () => c);

describe('image-folder loader', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bigbigan-images-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const at = (...p: string[]) => path.join(tmp, ...p);

  test('decodes PNG exactly and JPEG closely, labels by sorted class folder, ignores other files', async () => {
    await writeImage(at('flat', 'dog', 'a.png'), gradient(1), 8, 8, 3);
    await writeImage(at('flat', 'dog', 'b.PNG'), gradient(2), 8, 8, 3);
    await writeImage(at('flat', 'cat', 'c.JPG'), solid([200, 60, 30]), 8, 8, 3);
    fs.writeFileSync(at('flat', 'cat', 'notes.txt'), 'not an image');
    fs.writeFileSync(at('flat', 'README'), 'not a class');
    const ds = await loadImageFolder(at('flat'), { resolution: 8, testSize: 0, trainValSize: 0 });
    assert.deepEqual(ds.classNames, ['cat', 'dog']);
    assert.equal(ds.numClasses, 2);
    const s = ds.train;
    assert.deepEqual([s.count, s.height, s.width, s.channels], [3, 8, 8, 3]);
    // Round-robin over classes: cat/c, dog/a, dog/b.
    assert.deepEqual(Array.from(s.labels), [0, 1, 1]);
    assert.deepEqual(s.images.subarray(192, 384), gradient(1));
    assert.deepEqual(s.images.subarray(384, 576), gradient(2));
    const jpeg = s.images.subarray(0, 192);
    jpeg.forEach((v, i) => assert.ok(Math.abs(v - [200, 60, 30][i % 3]) <= 4, `JPEG byte ${i}: ${v}`));
  });

  test('resizes with fit cover (centre crop of the long side) and can decode to grey', async () => {
    // 32 x 8: red | green | blue in columns 0-7 | 8-23 | 24-31; the centre 8x8 is green.
    const stripes = rgb(32, 8, (x) => (x < 8 ? [255, 0, 0] : x < 24 ? [0, 255, 0] : [0, 0, 255]));
    await writeImage(at('wide', 'only', 'stripes.png'), stripes, 32, 8, 3);
    const ds = await loadImageFolder(at('wide'), { resolution: 4, testSize: 0, trainValSize: 0 });
    assert.deepEqual([ds.train.height, ds.train.width, ds.train.channels], [4, 4, 3]);
    ds.train.images.forEach((v, i) => assert.ok(Math.abs(v - [0, 255, 0][i % 3]) <= 2, `byte ${i}: ${v}`));

    const grey = Uint8Array.from({ length: 16 }, (_, i) => i * 16);
    await writeImage(at('grey', 'g', 'g.png'), grey, 4, 4, 1);
    const g1 = await loadImageFolder(at('grey'), { resolution: 4, channels: 1, testSize: 0, trainValSize: 0 });
    assert.equal(g1.train.channels, 1);
    assert.deepEqual(g1.train.images, grey);
    const g3 = await loadImageFolder(at('grey'), { resolution: 4, testSize: 0, trainValSize: 0 });
    assert.deepEqual(Array.from(g3.train.images.subarray(0, 6)), [0, 0, 0, 16, 16, 16]);
  });

  test('train/ and val/ folders are the splits; val may lack classes', async () => {
    for (const [split, cls, n] of [['train', 'a', 3], ['train', 'b', 2], ['val', 'b', 2]] as const) {
      for (let i = 0; i < n; i++) await writeImage(at('tv', split, cls, `${i}.png`), gradient(i), 8, 8, 3);
    }
    const ds = await loadImageFolder(at('tv'), { resolution: 8, trainValSize: 1 });
    assert.equal(ds.name, 'tv');
    assert.deepEqual(ds.classNames, ['a', 'b']);
    assert.deepEqual([ds.train.count, ds.trainVal.count, ds.test.count], [4, 1, 2]);
    assert.deepEqual(Array.from(ds.test.labels), [1, 1]);
  });

  test('without val/ a seeded testSize part is held out; limit keeps every class', async () => {
    for (const cls of ['x', 'y']) for (let i = 0; i < 10; i++) await writeImage(at('many', cls, `${i}.png`), gradient(i), 8, 8, 3);
    const ds = await loadImageFolder(at('many'), { resolution: 8 });
    assert.deepEqual([ds.train.count, ds.trainVal.count, ds.test.count], [16, 2, 2]);
    const again = await loadImageFolder(at('many'), { resolution: 8 });
    assert.deepEqual(again.test, ds.test);
    const few = await loadImageFolder(at('many'), { resolution: 8, limit: 4, testSize: 0, trainValSize: 0 });
    assert.deepEqual(Array.from(few.train.labels), [0, 1, 0, 1]);
  });

  test('missing root, no class folders, empty class folder, unknown val class: one clear error each', async () => {
    await assert.rejects(loadImageFolder(at('nowhere')), /Expected an image folder at .*nowhere, but the path does not exist/);
    fs.mkdirSync(at('noclasses'));
    fs.writeFileSync(at('noclasses', 'x.png'), '');
    await assert.rejects(loadImageFolder(at('noclasses')), /Expected class sub-folders in .*noclasses, but got none/);
    await writeImage(at('emptyclass', 'a', '0.png'), gradient(0), 8, 8, 3);
    fs.mkdirSync(at('emptyclass', 'b'));
    fs.writeFileSync(at('emptyclass', 'b', 'x.gif'), 'GIF89a');
    await assert.rejects(loadImageFolder(at('emptyclass')), /Expected JPEG or PNG images in .*emptyclass.b, but got none/);
    await writeImage(at('badval', 'train', 'a', '0.png'), gradient(0), 8, 8, 3);
    await writeImage(at('badval', 'val', 'z', '0.png'), gradient(0), 8, 8, 3);
    await assert.rejects(loadImageFolder(at('badval')), /Expected the class folders of .*badval.val to be among \[a\], but got 'z'/);
  });

  test('an unreadable image names the file', async () => {
    await writeImage(at('corrupt', 'a', '0.png'), gradient(0), 8, 8, 3);
    fs.writeFileSync(at('corrupt', 'a', 'bad.png'), 'this is not a png');
    await assert.rejects(loadImageFolder(at('corrupt'), { resolution: 8 }), {
      name: 'DatasetError',
      message: /Expected a decodable JPEG or PNG image at .*corrupt.a.bad\.png, but got: .*unsupported image format/,
    });
  });
});
