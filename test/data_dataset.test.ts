/**
 * The Split helpers (makeSplit, subset, takeFirst, the seeded hold-out) and
 * the loadDataset registry.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { holdOut, holdOutCount, makeSplit, subset, takeFirst } from '../src/data/dataset';
import { CIFAR_RECORD_BYTES, CIFAR_TEST_FILE, CIFAR_TRAIN_FILES } from '../src/data/cifar';
import { DatasetName, loadDataset } from '../src/data/registry';
import { skipUnless } from './optional';

/** n 2x2x1 images whose pixels all equal their index, labels i % 10. */
const indexed = (n: number) =>
  makeSplit('s', Uint8Array.from({ length: 4 * n }, (_, j) => j >> 2), Int32Array.from({ length: n }, (_, i) => i % 10), 2, 2, 1);

describe('Split helpers', () => {
  test('makeSplit checks the buffer against the shape', () => {
    assert.throws(() => makeSplit('bad', new Uint8Array(10), new Int32Array(3), 2, 2, 1),
      /Expected 12 bytes of pixels for 3 images of 2x2x1 in split 'bad', but got 10/);
  });

  test('subset copies in the given order; takeFirst views the head', () => {
    const s = indexed(10);
    const sub = subset(s, [7, 2], 'sub');
    assert.deepEqual(Array.from(sub.images), [7, 7, 7, 7, 2, 2, 2, 2]);
    assert.deepEqual(Array.from(sub.labels), [7, 2]);
    assert.equal(takeFirst(s, 3).count, 3);
    assert.equal(takeFirst(s, 30), s);
  });

  test('holdOut partitions, keeps order, depends only on the seed', () => {
    const s = indexed(100);
    const { rest, heldOut } = holdOut(s, 0.2, 5, ['a', 'b']);
    assert.deepEqual([rest.count, heldOut.count, rest.name, heldOut.name], [80, 20, 'a', 'b']);
    const ids = (x: typeof s) => Array.from(x.images.filter((_, j) => j % 4 === 0));
    assert.deepEqual([...ids(rest), ...ids(heldOut)].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(ids(heldOut), [...ids(heldOut)].sort((a, b) => a - b));
    assert.deepEqual(holdOut(s, 20, 5, ['a', 'b']).heldOut, heldOut);
    assert.notDeepEqual(holdOut(s, 20, 6, ['a', 'b']).heldOut, heldOut);
  });

  test('hold-out sizes: fraction or count, and nonsense rejected', () => {
    assert.equal(holdOutCount(0.1, 60000), 6000);
    assert.equal(holdOutCount(5000, 60000), 5000);
    assert.equal(holdOutCount(0, 10), 0);
    for (const bad of [10, 2.5, -1, NaN]) {
      assert.throws(() => holdOutCount(bad, 10),
                    /Expected trainValSize to be a fraction in \(0, 1\) or a whole number in \[0, 10\), but got/);
    }
  });
});

describe('loadDataset', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bigbigan-registry-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  for (const name of ['mnist', 'fashion'] as const) {
    test(`${name} with limit, trainValSize and seed`, { skip: name === 'fashion' && skipUnless('fashion-mnist') }, async () => {
      const ds = await loadDataset(name, { limit: 1000, trainValSize: 100, seed: 1 });
      assert.equal(ds.name, name);
      assert.deepEqual([ds.train.count, ds.trainVal.count, ds.test.count], [900, 100, 1000]);
    });
  }

  test('cifar10 and imagefolder from a path', async () => {
    const cifar = path.join(tmp, 'cifar');
    fs.mkdirSync(cifar);
    for (const f of [...CIFAR_TRAIN_FILES, CIFAR_TEST_FILE]) fs.writeFileSync(path.join(cifar, f), Buffer.alloc(4 * CIFAR_RECORD_BYTES));
    const c = await loadDataset('cifar10', { path: cifar, limit: 10 });
    assert.deepEqual([c.train.count, c.trainVal.count, c.test.count], [9, 1, 4]);

    const sharp = (await import('sharp')).default;
    const folder = path.join(tmp, 'images', 'k');
    fs.mkdirSync(folder, { recursive: true });
    const png = await sharp({ create: { width: 6, height: 6, channels: 3, background: '#336699' } }).png().toBuffer();
    for (let i = 0; i < 4; i++) fs.writeFileSync(path.join(folder, `${i}.png`), png);
    const f = await loadDataset('imagefolder', { path: path.join(tmp, 'images'), resolution: 3, testSize: 1, trainValSize: 1 });
    assert.deepEqual([f.train.count, f.trainVal.count, f.test.count, f.train.height], [2, 1, 1, 3]);
    assert.deepEqual(Array.from(f.train.images.subarray(0, 3)), [0x33, 0x66, 0x99]);
  });

  test('unknown name or imagefolder without path is an error', async () => {
    await assert.rejects(loadDataset('svhn' as DatasetName),
      /Expected a dataset name among mnist, fashion, cifar10, imagefolder, but got 'svhn'/);
    await assert.rejects(loadDataset('imagefolder'), /Expected opts.path \(the image folder\) for 'imagefolder', but got none/);
  });
});
