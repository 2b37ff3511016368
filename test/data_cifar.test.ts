/**
 * CIFAR-10 binary loader on small batch files written here with known bytes:
 * CHW → HWC conversion, labels, class names, limit, and bad input.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CIFAR10_CLASS_NAMES, CIFAR_RECORD_BYTES, CIFAR_TEST_FILE, CIFAR_TRAIN_FILES, loadCifar10 } from '../src/data/cifar';

/** The known pixel of record `r` at row y, column x, channel c (R, G, B). */
const pixel = (r: number, y: number, x: number, c: number) => (r * 7 + y * 3 + x * 5 + c * 85) % 256;
const label = (r: number) => (r * 3) % 10;

/** `n` records numbered from `start`, each label byte then the R, G and B planes. */
function records(start: number, n: number): Buffer {
  const b = Buffer.alloc(n * CIFAR_RECORD_BYTES);
  for (let k = 0; k < n; k++) {
    const r = start + k;
    const base = k * CIFAR_RECORD_BYTES;
    b[base] = label(r);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) b[base + 1 + c * 1024 + y * 32 + x] = pixel(r, y, x, c);
    }
  }
  return b;
}

describe('CIFAR-10 binary loader', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bigbigan-cifar-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  /** A directory with 2 records per train batch (records 0..9) and 3 test records (100..102). */
  function makeDir(name: string): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(dir, { recursive: true });
    CIFAR_TRAIN_FILES.forEach((f, i) => fs.writeFileSync(path.join(dir, f), records(2 * i, 2)));
    fs.writeFileSync(path.join(dir, CIFAR_TEST_FILE), records(100, 3));
    return dir;
  }

  test('records become HWC images with their labels, in file order', () => {
    const ds = loadCifar10(makeDir('ok'), { trainValSize: 0 });
    assert.deepEqual([ds.train.count, ds.trainVal.count, ds.test.count], [10, 0, 3]);
    assert.deepEqual([ds.train.height, ds.train.width, ds.train.channels], [32, 32, 3]);
    assert.deepEqual(Array.from(ds.train.labels), Array.from({ length: 10 }, (_, r) => label(r)));
    assert.deepEqual(Array.from(ds.test.labels), [100, 101, 102].map(label));
    for (const [split, r0] of [[ds.train, 0], [ds.test, 100]] as const) {
      for (const [k, y, x, c] of [[0, 0, 0, 0], [1, 5, 17, 2], [split.count - 1, 31, 31, 1], [0, 3, 30, 1]]) {
        assert.equal(split.images[((k * 32 + y) * 32 + x) * 3 + c], pixel(r0 + k, y, x, c), `record ${r0 + k} (${y},${x},${c})`);
      }
    }
    assert.deepEqual(ds.classNames, CIFAR10_CLASS_NAMES);
    assert.equal(ds.numClasses, 10);
  });

  test('trainVal is held out of train; class names come from batches.meta.txt; nested folder found', () => {
    const dir = makeDir(path.join('outer', 'cifar-10-batches-bin'));
    const names = ['a0', 'b1', 'c2', 'd3', 'e4', 'f5', 'g6', 'h7', 'i8', 'j9'];
    fs.writeFileSync(path.join(dir, 'batches.meta.txt'), names.join('\n') + '\n\n');
    const ds = loadCifar10(path.join(tmp, 'outer'), { trainValSize: 3 });
    assert.deepEqual([ds.train.count, ds.trainVal.count], [7, 3]);
    assert.deepEqual(ds.classNames, names);
  });

  test('limit reads only the first records', () => {
    const ds = loadCifar10(makeDir('limit'), { limit: 3, trainValSize: 0 });
    assert.deepEqual([ds.train.count, ds.test.count], [3, 3]);
    assert.equal(ds.train.images[2 * 3072], pixel(2, 0, 0, 0));
  });

  test('a file of the wrong size is an error naming it', () => {
    const dir = makeDir('size');
    fs.writeFileSync(path.join(dir, 'data_batch_3.bin'), Buffer.concat([records(4, 2), Buffer.alloc(5)]));
    assert.throws(() => loadCifar10(dir), {
      name: 'DatasetError',
      message: new RegExp(/Expected the size of .*size.data_batch_3\.bin to be a positive multiple of 3073 bytes /.source +
                          /\(one CIFAR-10 record\), but got 6151 bytes/.source),
    });
  });

  test('a missing directory or batch file is an error naming it', () => {
    assert.throws(() => loadCifar10(path.join(tmp, 'nowhere')),
      /Expected a CIFAR-10 directory at .*nowhere, but the path does not exist \(unpack .*cifar-10-binary\.tar\.gz there\)/);
    const dir = makeDir('missing');
    fs.rmSync(path.join(dir, 'data_batch_4.bin'));
    assert.throws(() => loadCifar10(dir), /Expected a CIFAR-10 batch file at .*missing.data_batch_4\.bin, but the path does not exist/);
  });

  test('batches.meta.txt with the wrong number of names is an error', () => {
    const dir = makeDir('meta');
    fs.writeFileSync(path.join(dir, 'batches.meta.txt'), 'cat\ndog\n');
    assert.throws(() => loadCifar10(dir), /Expected 10 class names in .*batches\.meta\.txt, but got 2/);
  });
});
