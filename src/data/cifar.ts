/**
 * CIFAR-10 binary version (Krizhevsky 2009, "Learning Multiple Layers of
 * Features from Tiny Images"; https://www.cs.toronto.edu/~kriz/cifar.html):
 * data_batch_1..5.bin and test_batch.bin, each a sequence of 3073-byte
 * records: 1 label byte, then a 32x32 image as three planes R, G, B (CHW),
 * which we convert to HWC.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Dataset, HoldOutOptions, makeDataset, makeSplit, Split } from './dataset';
import { DatasetError, readFileChecked, requirePath } from './errors';

export const CIFAR_SIZE = 32;
/** Bytes per image: 3 planes of 32x32. */
export const CIFAR_IMAGE_BYTES = 3 * CIFAR_SIZE * CIFAR_SIZE;
/** Bytes per record: one label byte + one image. */
export const CIFAR_RECORD_BYTES = 1 + CIFAR_IMAGE_BYTES;
export const CIFAR_TRAIN_FILES = [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`);
export const CIFAR_TEST_FILE = 'test_batch.bin';
/** Default location: the folder the official tarball unpacks to, under ./data. */
export const CIFAR_DEFAULT_DIR = 'data/cifar-10-batches-bin';
const CIFAR_HINT = 'unpack https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz there';

/** Used when batches.meta.txt is absent. */
export const CIFAR10_CLASS_NAMES = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Parsed records of one or more CIFAR files. */
interface Records {
  images: Uint8Array[];
  labels: number[];
}

/**
 * Appends the records of one file (at most `max`) to `out`, converting
 * CHW planes to HWC. A size that is not a multiple of 3073 is an error.
 */
function readCifarFile(file: string, max: number, out: Records): void {
  const bytes = readFileChecked(file, 'a CIFAR-10 batch file', CIFAR_HINT);
  if (bytes.length === 0 || bytes.length % CIFAR_RECORD_BYTES !== 0) {
    throw new DatasetError(
      `Expected the size of ${file} to be a positive multiple of ${CIFAR_RECORD_BYTES} bytes (one CIFAR-10 record), ` +
      `but got ${bytes.length} bytes`);
  }
  const plane = CIFAR_SIZE * CIFAR_SIZE;
  const n = Math.min(max, bytes.length / CIFAR_RECORD_BYTES);
  for (let r = 0; r < n; r++) {
    const base = r * CIFAR_RECORD_BYTES;
    out.labels.push(bytes[base]);
    const hwc = new Uint8Array(CIFAR_IMAGE_BYTES);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) hwc[3 * p + c] = bytes[base + 1 + c * plane + p];
    }
    out.images.push(hwc);
  }
}

/** Reads `files` in order into one Split of at most `limit` examples. */
function readCifarSplit(name: string, dir: string, files: string[], limit = Infinity): Split {
  const records: Records = { images: [], labels: [] };
  for (const f of files) {
    if (records.labels.length >= limit) break;
    readCifarFile(path.join(dir, f), limit - records.labels.length, records);
  }
  const images = new Uint8Array(records.images.length * CIFAR_IMAGE_BYTES);
  records.images.forEach((img, k) => images.set(img, k * CIFAR_IMAGE_BYTES));
  return makeSplit(name, images, Int32Array.from(records.labels), CIFAR_SIZE, CIFAR_SIZE, 3);
}

/** Class names from batches.meta.txt (one per line) if present, else the standard ten. */
export function cifarClassNames(dir: string): string[] {
  const file = path.join(dir, 'batches.meta.txt');
  if (!fs.existsSync(file)) return CIFAR10_CLASS_NAMES;
  const names = fs.readFileSync(file, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  if (names.length !== CIFAR10_CLASS_NAMES.length) {
    throw new DatasetError(`Expected ${CIFAR10_CLASS_NAMES.length} class names in ${file}, but got ${names.length}`);
  }
  return names;
}

/** Options of loadCifar10. */
export interface CifarLoadOptions extends HoldOutOptions {
  /** Read at most `limit` train and `limit` test examples (for tests and quick runs). */
  limit?: number;
}

/**
 * CIFAR-10 from `dir`, which holds the .bin files or the
 * `cifar-10-batches-bin` folder that contains them.
 */
export function loadCifar10(dir: string = CIFAR_DEFAULT_DIR, opts: CifarLoadOptions = {}): Dataset {
  requirePath(dir, 'a CIFAR-10 directory', CIFAR_HINT);
  const nested = path.join(dir, 'cifar-10-batches-bin');
  const root = fs.existsSync(path.join(dir, CIFAR_TEST_FILE)) || !fs.existsSync(nested) ? dir : nested;
  const classNames = cifarClassNames(root);
  const train = readCifarSplit('train', root, CIFAR_TRAIN_FILES, opts.limit);
  const test = readCifarSplit('test', root, [CIFAR_TEST_FILE], opts.limit);
  return makeDataset('cifar10', classNames.length, classNames, train, test, opts);
}
