/**
 * The data of a training run as its config asks: the dataset and the real-image batches at E's resolution.
 */
import { Config } from '../config';
import { BatchIterator, Dataset, loadDataset, Split } from '../data';

/** The real-image batches of a run: E's resolution, padded 28 -> 32 where that suffices, else resized. */
export function batchesFor(cfg: Config, split: Split): BatchIterator {
  const pad = cfg.eResolution >= split.height && cfg.eResolution - split.height <= 4;
  return new BatchIterator(split, {
    batchSize: cfg.batchSize, seed: cfg.seed, resolution: cfg.eResolution, resize: pad ? 'pad' : 'resize',
    crop: cfg.augmentCrop, flip: cfg.augmentFlip,
  });
}

/**
 * The dataset of a run as its config asks (the trainer, the evaluation, the sweeps and the notebooks all
 * load it here): image folders decoded at E's side (or G's, if larger) with cfg.channels; `limit` caps
 * the examples read (quick runs).
 */
export async function loadRunDataset(cfg: Config, opts: { limit?: number } = {}): Promise<Dataset> {
  return loadDataset(cfg.dataset, {
    path: cfg.dataPath || undefined, seed: cfg.seed, resolution: Math.max(cfg.eResolution, cfg.resolution), channels: cfg.channels as 1 | 3,
    ...(opts.limit ? { limit: opts.limit } : {}),
  });
}
