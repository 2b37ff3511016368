/**
 * ImageNet-style image folders (the torchvision ImageFolder layout): a root
 * with one sub-folder per class, label ids in sorted folder-name order, JPEG
 * or PNG files inside (extensions case-insensitive; other files and hidden
 * entries ignored). Images are decoded with sharp, auto-oriented from EXIF,
 * and resized to `resolution` x `resolution` with `fit: 'cover'` (scale the
 * short side to `resolution`, centre-crop the long side; sharp's default
 * lanczos3 kernel), alpha dropped, as sRGB (3 channels) or grey (1).
 *
 * Splits: if root has `train/` and `val/` (or `test/`) folders, they are the
 * original train and test splits (val's classes must be among train's; ImageNet's
 * flat val/ must first be sorted into class folders). Otherwise the classes are
 * root's sub-folders (or `train/`'s, if only that exists) and a seeded random
 * `testSize` part of all images becomes `test`. `trainVal` is then held out of
 * the rest as for every dataset.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type sharpModule from 'sharp';
import { Dataset, HoldOutOptions, holdOutIndices, makeDataset, makeSplit, Split } from './dataset';
import { DatasetError, requirePath } from './errors';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];
export const DEFAULT_IMAGE_RESOLUTION = 64;
/** Default fraction of images held out as `test` when there is no val/ or test/ folder. */
export const DEFAULT_TEST_SIZE = 0.1;

/** Options of loadImageFolder. */
export interface ImageFolderOptions extends HoldOutOptions {
  /** Side of the decoded square images; default DEFAULT_IMAGE_RESOLUTION. */
  resolution?: number;
  /** 3 (sRGB, default) or 1 (grey). */
  channels?: 1 | 3;
  /** Test hold-out (fraction or count) when root has no val/ or test/; default DEFAULT_TEST_SIZE. */
  testSize?: number;
  /** Decode at most `limit` images per split folder, taken round-robin over classes. */
  limit?: number;
}

/** One image file and its class id. */
export interface ImageFile {
  file: string;
  label: number;
}

/** The files of an image folder's splits, before any decoding (imageFolderFiles). */
export interface ImageFolderFiles {
  /** The folder's base name, the dataset's name. */
  name: string;
  classNames: string[];
  /** The original train split (trainVal not yet held out) and the test split, round-robin over classes. */
  train: ImageFile[];
  test: ImageFile[];
}

const visible = (name: string) => !name.startsWith('.');
const isDir = (p: string) => fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() ?? false; // false for broken links
const isImage = (name: string) => IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase());

/** Sorted class sub-folder names of `dir`; none is an error. */
export function listClasses(dir: string): string[] {
  const names = fs.readdirSync(dir).filter((n) => visible(n) && isDir(path.join(dir, n))).sort();
  if (names.length === 0) throw new DatasetError(`Expected class sub-folders in ${dir}, but got none`);
  return names;
}

/** Sorted JPEG/PNG file paths directly inside `dir`. */
function listImages(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => visible(n) && isImage(n) && !isDir(path.join(dir, n)))
    .sort().map((n) => path.join(dir, n));
}

/**
 * The images of a split folder, round-robin over classes (so that a `limit`
 * keeps every class). With `requireEach`, a class folder without images is an
 * error; otherwise folders may be missing but must name known classes.
 */
function scanSplit(dir: string, classNames: string[], requireEach: boolean): ImageFile[] {
  const perClass: ImageFile[][] = [];
  for (const name of listClasses(dir)) {
    const label = classNames.indexOf(name);
    if (label < 0) {
      throw new DatasetError(`Expected the class folders of ${dir} to be among [${classNames.join(', ')}], but got '${name}'`);
    }
    const files = listImages(path.join(dir, name));
    if (requireEach && files.length === 0) {
      throw new DatasetError(`Expected JPEG or PNG images in ${path.join(dir, name)}, but got none`);
    }
    perClass.push(files.map((file) => ({ file, label })));
  }
  const total = perClass.reduce((a, c) => a + c.length, 0);
  const entries: ImageFile[] = [];
  for (let k = 0; entries.length < total; k++) {
    for (const c of perClass) if (k < c.length) entries.push(c[k]);
  }
  if (entries.length === 0) throw new DatasetError(`Expected JPEG or PNG images in ${dir}, but got none`);
  return entries;
}

/** Requires sharp only when a folder is actually read. */
function loadSharp(): typeof sharpModule {
  try {
    return require('sharp');
  } catch (e) {
    throw new DatasetError(`Expected the sharp package to decode images, but got: ${(e as Error).message}`);
  }
}

/** Decodes one file to resolution x resolution x channels bytes (HWC). */
async function decodeImage(sharp: typeof sharpModule, file: string, resolution: number, channels: 1 | 3): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(file).autoOrient().resize(resolution, resolution, { fit: 'cover' })
      .removeAlpha().toColourspace(channels === 1 ? 'b-w' : 'srgb').raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== channels || data.length !== resolution * resolution * channels) {
      throw new Error(`${info.width}x${info.height}x${info.channels} pixels instead of ${resolution}x${resolution}x${channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (e) {
    throw new DatasetError(`Expected a decodable JPEG or PNG image at ${file}, but got: ${(e as Error).message}`);
  }
}

/**
 * Decodes `files` to resolution x resolution x channels bytes each (HWC, one
 * after the other), a few files at a time: a batch of a folder too large to
 * hold decoded.
 */
export async function decodeImages(files: string[], resolution: number, channels: 1 | 3): Promise<Uint8Array> {
  const sharp = loadSharp();
  const size = resolution * resolution * channels;
  const images = new Uint8Array(files.length * size);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) images.set(await decodeImage(sharp, files[i], resolution, channels), i * size);
  };
  await Promise.all(Array.from({ length: Math.min(files.length, os.cpus().length) }, worker));
  return images;
}

/** Decodes `entries` into one Split. */
async function decodeSplit(name: string, entries: ImageFile[], resolution: number, channels: 1 | 3): Promise<Split> {
  const images = await decodeImages(entries.map((e) => e.file), resolution, channels);
  return makeSplit(name, images, Int32Array.from(entries, (e) => e.label), resolution, resolution, channels);
}

/** First existing sub-folder of `root` among `names`, or undefined. */
function subDir(root: string, names: string[]): string | undefined {
  return names.map((n) => path.join(root, n)).find((p) => fs.existsSync(p) && isDir(p));
}

/**
 * The image files of an image folder's train and test splits, by the
 * module comment's layout and split convention (`limit`, `testSize` and `seed`
 * as in loadImageFolder, which decodes exactly these files), without
 * decoding any.
 */
export function imageFolderFiles(root: string, opts: Pick<ImageFolderOptions, 'limit' | 'testSize' | 'seed'> = {}): ImageFolderFiles {
  requirePath(root, 'an image folder');
  if (!isDir(root)) throw new DatasetError(`Expected an image folder at ${root}, but got a file`);
  const capped = (entries: ImageFile[]) => entries.slice(0, opts.limit ?? entries.length);
  const trainDir = subDir(root, ['train']);
  const testDir = trainDir && subDir(root, ['val', 'test']);
  const classRoot = trainDir ?? root;
  const classNames = listClasses(classRoot);
  const name = path.basename(path.resolve(root));
  const train = capped(scanSplit(classRoot, classNames, true));
  if (testDir) return { name, classNames, train, test: capped(scanSplit(testDir, classNames, false)) };
  const seed = (opts.seed ?? 0) + 1; // a different permutation from the trainVal hold-out's
  const { rest, held } = holdOutIndices(train.length, opts.testSize ?? DEFAULT_TEST_SIZE, seed, 'testSize');
  return { name, classNames, train: rest.map((i) => train[i]), test: held.map((i) => train[i]) };
}

/** Loads an image-folder dataset (see the module comment for the layout and split convention). */
export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<Dataset> {
  const resolution = opts.resolution ?? DEFAULT_IMAGE_RESOLUTION;
  const channels = opts.channels ?? 3;
  const files = imageFolderFiles(root, opts);
  if (!Number.isInteger(resolution) || resolution < 1) {
    throw new DatasetError(`Expected a positive whole resolution, but got ${resolution}`);
  }
  if (channels !== 1 && channels !== 3) throw new DatasetError(`Expected channels 1 or 3, but got ${channels}`);
  const train = await decodeSplit('train', files.train, resolution, channels);
  const test = await decodeSplit('test', files.test, resolution, channels);
  return makeDataset(files.name, files.classNames.length, files.classNames, train, test, opts);
}
