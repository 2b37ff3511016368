/**
 * Presets (a dataset and a model size) and the paper's Table-1 ablation rows,
 * each a small delta on DEFAULT_CONFIG / on a preset. `resolveConfig` applies
 * preset -> ablation -> overrides and rejects unknown names and keys.
 */
import { Config, DEFAULT_CONFIG } from './config';

export interface Preset {
  /** One line for `bigbigan presets`. */
  about: string;
  delta: Partial<Config>;
}

export const PRESETS: Record<string, Preset> = {
  mnist: {
    about: 'embedded MNIST padded to 32x32; the default, sized for a ~10 minute run on 2 CPU cores',
    delta: {},
  },
  fashion: {
    about: 'Fashion-MNIST (Debian dataset-fashion-mnist) padded to 32x32',
    delta: { dataset: 'fashion', steps: 2000 },
  },
  cifar10: {
    about: 'CIFAR-10 (binary version, --set dataPath=DIR), 32x32 RGB, crop+flip augmentation',
    delta: { dataset: 'cifar10', channels: 3, augmentCrop: 4, augmentFlip: true, gCh: 32, dCh: 32, eCh: 32, zDim: 64, steps: 5000 },
  },
  bench32: {
    about: 'the throughput yardstick of shared/bench/BENCH32.md (same networks as torch_reference.py)',
    delta: {
      zDim: 64, gCh: 16, gMults: [4, 4, 2, 1], gAttention: 16,
      eArch: 'convnet', eCh: 16, eWidth: 1, eBlocks: [1, 1, 1], eMlp: 256, eStochastic: true,
      dCh: 16, dMults: [1, 2, 4], dAttention: 16, dMlp: 256,
      batchSize: 64, dSteps: 1, lrG: 5e-5, lrD: 2e-4, eLrMult: 10,
    },
  },
  imagenet128: {
    about: "the paper's scale: G 128x128 width 96, z 120 in 6 chunks, RevNet-50 x4 E at 256x256, batch 2048 (builds; not trained here)",
    delta: {
      dataset: 'imagefolder', channels: 3, resolution: 128, eResolution: 256, augmentFlip: true,
      zDim: 120, gCh: 96, gMults: [16, 16, 8, 4, 2, 1], gAttention: 64,
      eArch: 'revnet', eCh: 64, eWidth: 4, eBlocks: [3, 4, 6, 3], eBottleneck: true, eMlp: 4096,
      dCh: 96, dMults: [1, 2, 4, 8, 16, 16], dAttention: 64, dMlp: 2048,
      batchSize: 2048, steps: 500_000, dSteps: 2, lrG: 5e-5, lrD: 2e-4, emaDecay: 0.9999, emaStart: 20_000,
    },
  },
};
