/**
 * Presets (a dataset and a model size) and the paper's Table-1 ablation rows,
 * each a small delta on DEFAULT_CONFIG / on a preset. `resolveConfig` applies
 * preset -> ablation -> overrides and rejects unknown names and keys.
 */
import { Config, DEFAULT_CONFIG, PAPER_OBJECTIVE } from './config';
import { checkOverrides, parseSetting, validateConfig } from './config_check';

export interface Preset {
  /** One line for `bigbigan presets`. */
  about: string;
  delta: Partial<Config>;
  /**
   * E/G steps of every run of this preset's ablation sweep: the smallest budget measured at which
   * Base's E clears its random init by 10 points of probe top-1 (README, Results).
   */
  sweepSteps?: number;
}

/** The sweep's budget for presets that have not measured their own. */
const DEFAULT_SWEEP_STEPS = 300;

/** The long run of a small preset (README, "The encoder recipe"): 6000 E/G steps, an evaluation every 1000. */
// The last third at a falling learning rate: reconstructions keep the class more often (README, "The encoder recipe").
const LONG: Partial<Config> = { steps: 6000, lrDecay: 1 / 3, evalEvery: 1000, sampleEvery: 500, checkpointEvery: 500 };

export const PRESETS: Record<string, Preset> = {
  mnist: {
    about: 'embedded MNIST padded to 32x32; the default, sized for a ~10 minute run on 2 CPU cores (add --steps for longer)',
    delta: {},
    sweepSteps: 300,
  },
  fashion: {
    about: 'Fashion-MNIST (Debian dataset-fashion-mnist) padded to 32x32',
    delta: { dataset: 'fashion' },
    sweepSteps: 1000,   // Base's E over its random init on trainVal: +6.8 points at 300 steps, +8.7 at 500, +10.6 at 1000
  },
  'mnist-long': {
    about: "the encoder's bar: mnist for 6000 steps, the last third at a falling learning rate, an evaluation every 1000 " +
      '(under an hour on 2 CPU cores with the native kernels)',
    delta: LONG,
  },
  'fashion-long': {
    about: 'fashion for 6000 steps with an evaluation every 1000, as mnist-long',
    delta: { dataset: 'fashion', ...LONG },
  },
  cifar10: {
    about: 'CIFAR-10 (binary version, --set dataPath=DIR), 32x32 RGB, crop+flip augmentation',
    delta: {
      dataset: 'cifar10', channels: 3, augmentCrop: 4, augmentFlip: true, gCh: 32, dCh: 32, eCh: 32, eMlp: 256, dMlp: 256, zDim: 64,
      steps: 5000, emaDecay: 0.999, sampleEvery: 250, checkpointEvery: 500,
    },
  },
  bench32: {
    about: 'the throughput yardstick of shared/bench/BENCH32.md (same networks as torch_reference.py)',
    delta: {
      zDim: 64, gCh: 16, gMults: [4, 4, 2, 1], gAttention: 16,
      eArch: 'convnet', eCh: 16, eWidth: 1, eBlocks: [1, 1, 1], eMlp: 256, eStochastic: true,
      dCh: 16, dMults: [1, 2, 4], dAttention: 16, dMlp: 256,
      batchSize: 64, dSteps: 1, lrG: 5e-5, lrD: 2e-4, eLrMult: 10, beta1: 0, init: 'ortho', ...PAPER_OBJECTIVE,
    },
  },
  imagenet128: {
    about: "the paper's scale: G 128x128 width 96, z 120 in 6 chunks, RevNet-50 x4 E at 256x256, batch 2048 (builds; not trained here)",
    delta: {
      dataset: 'imagefolder', channels: 3, resolution: 128, eResolution: 256, augmentFlip: true,
      zDim: 120, gCh: 96, gMults: [16, 16, 8, 4, 2, 1], gAttention: 64,
      eArch: 'revnet', eCh: 64, eWidth: 4, eBlocks: [3, 4, 6, 3], eBottleneck: true, eMlp: 4096,
      dCh: 96, dMults: [1, 2, 4, 8, 16, 16], dAttention: 64, dMlp: 2048,
      batchSize: 2048, steps: 500_000, dSteps: 2, lrG: 5e-5, lrD: 2e-4, eLrMult: 10, beta1: 0, init: 'ortho',
      emaDecay: 0.9999, emaStart: 20_000,
      ...PAPER_OBJECTIVE,
    },
  },
};

/** For rows without s_x: the paper's joint score J (dJoint 'pairing' sees no realness) and G's full weight of it. */
const JOINT_CARRIES_G: Partial<Config> = { dJoint: 'mlp', gJointWeight: 1 };

/**
 * One direction the paper's Table 1 reports for a row: its `measure` is `is` (better or worse: lower FID,
 * higher IS and probe top-1 are better) than the same measure of the row `against` (default 'base').
 * Claims of "about as good" are not directions and are not listed (sweep/verdicts.ts tests these).
 */
export interface PaperDirection {
  measure: 'FID' | 'IS' | 'probe_top1';
  is: 'better' | 'worse';
  against?: string;
}

/** A Table-1 row of the paper mapped to small scale (a delta on the preset). */
export interface Ablation {
  about: string;
  delta: Partial<Config>;
  /** Channel units halved relative to the preset (so "small" means smaller on every preset). */
  halve?: Array<'eCh' | 'gCh' | 'dCh'>;
  /** What the paper reports for this row against Base (Table 1), in words. */
  paper: string;
  /** The same as data: the directions the paper reports (none: a reference row, or only "about as good"). */
  directions?: PaperDirection[];
}

/** "Generation (IS/FID) is `is`", as two directions. */
const generation = (is: PaperDirection['is']): PaperDirection[] => [{ measure: 'FID', is }, { measure: 'IS', is }];
/** "Classification (probe top-1) is `is` than `against`". */
const classification = (is: PaperDirection['is'], against?: string): PaperDirection[] => [{ measure: 'probe_top1', is, against }];

export const ABLATIONS: Record<string, Ablation> = {
  'base': { about: 'the preset as it is', delta: {}, paper: 'reference row' },
  'paper': {
    about: "the paper's objective: D's J on [F(x), H(z)], G also follows s_xz, no latent regression (the small-scale recipe off)",
    delta: { ...PAPER_OBJECTIVE }, paper: 'the paper itself (Base)',
  },
  'deterministic-e': {
    about: 'E outputs mu only', delta: { eStochastic: false },
    paper: 'classification clearly worse', directions: classification('worse'),
  },
  'uniform-pz': {
    about: 'P_z = U(-1, 1)', delta: { latent: 'uniform' },
    paper: 'similar (slightly worse)', directions: classification('worse'),
  },
  'x-unary-only': {
    about: 'losses keep s_x and s_xz', delta: { unary: 'x' },
    paper: 'IS/FID about as good as Base; classification slightly worse', directions: classification('worse'),
  },
  // Without s_x, G learns only through s_xz: these rows use the paper's J (which sees x's realness) and G's full share of it.
  'z-unary-only': {
    about: 'losses keep s_z and s_xz', delta: { unary: 'z', ...JOINT_CARRIES_G },
    paper: 'IS/FID much worse (the x unary term matters most)', directions: generation('worse'),
  },
  'no-unaries': {
    about: 'losses keep s_xz only (BiGAN)', delta: { unary: 'none', ...JOINT_CARRIES_G },
    paper: 'IS/FID much worse', directions: generation('worse'),
  },
  'small-e': {
    about: "E at half the preset's channel unit (eCh / 2)", delta: {}, halve: ['eCh'],
    paper: 'classification worse', directions: classification('worse'),
  },
  'small-g': {
    about: "G at half the preset's channel unit (gCh / 2; the paper: 32 vs 96)", delta: {}, halve: ['gCh'],
    paper: 'IS/FID and classification worse', directions: [...generation('worse'), ...classification('worse')],
  },
  'no-e': {
    about: 'no encoder: a plain BigGAN (D = F and s_x)', delta: { noEncoder: true },
    paper: 'generation about as Base; no representation',
  },
  'high-res-e': {
    about: 'E sees 64x64, D sees it average-pooled to 32', delta: { eResolution: 64 },
    paper: 'classification better', directions: classification('better'),
  },
  'low-res-g': {
    about: 'G makes 16x16 (with the 64x64 E)',
    delta: { resolution: 16, gMults: [4, 2, 1], eResolution: 64, dAttention: 8 },
    paper: 'classification about as good, generation worse', directions: generation('worse'),
  },
  'high-res-g': {
    about: 'G makes 64x64 (with the 64x64 E)',
    delta: { resolution: 64, gMults: [4, 4, 2, 2, 1], gAttention: 32, eResolution: 64, dMults: [1, 1, 2, 4], dAttention: 32 },
    paper: 'generation better at higher cost', directions: generation('better'),
  },
  'resnet-x1': { about: 'ResNet E, width x1', delta: { eArch: 'resnet', eWidth: 1 }, paper: 'ResNet x1 < RevNet x1' },
  'resnet-x2': {
    about: 'ResNet E, width x2', delta: { eArch: 'resnet', eWidth: 2 },
    paper: 'wider is better', directions: classification('better', 'resnet-x1'),
  },
  'revnet-x1': {
    about: 'RevNet E, width x1', delta: { eArch: 'revnet', eWidth: 1 },
    paper: 'RevNet beats ResNet at equal width', directions: classification('better', 'resnet-x1'),
  },
  'revnet-x2': {
    about: 'RevNet E, width x2', delta: { eArch: 'revnet', eWidth: 2 },
    paper: 'wider is better', directions: classification('better', 'revnet-x1'),
  },
  'revnet-x4': {
    about: 'RevNet E, width x4', delta: { eArch: 'revnet', eWidth: 4 },
    paper: 'the best classifier of the table', directions: classification('better', 'revnet-x2'),
  },
  'e-lr-1x': {
    about: "E's learning rate equal to G's (no decoupled E optimisation)", delta: { eLrMult: 1 },
    paper: 'classification much worse than 10x', directions: classification('worse'),
  },
};

/**
 * The one way a configuration is made: preset -> `beneath` (typed values under the row, e.g. a
 * notebook's smaller quick-mode model, so that a row's delta still shows) -> ablation -> `key=value`
 * settings (the CLI's strings) -> typed `overrides` (a notebook's values), each name and key
 * checked, the result validated (config_check.ts).
 */
export function resolveConfig(preset = 'mnist', ablation = 'base', settings: string[] = [],
                              overrides: Record<string, unknown> = {}, beneath: Record<string, unknown> = {}): Config {
  const p = PRESETS[preset];
  if (p === undefined) throw new Error(`Expected a preset (${Object.keys(PRESETS).join(', ')}), but got '${preset}'`);
  const a = ABLATIONS[ablation];
  if (a === undefined) throw new Error(`Expected an ablation (${Object.keys(ABLATIONS).join(', ')}), but got '${ablation}'`);
  checkOverrides(beneath);
  let cfg: Config = { ...DEFAULT_CONFIG, ...p.delta, ...(beneath as Partial<Config>), ...a.delta };
  for (const key of a.halve ?? []) cfg = { ...cfg, [key]: Math.max(1, Math.round(cfg[key] / 2)) };
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new Error(`Expected --set key=value, but got '${s}'`);
    cfg = { ...cfg, ...parseSetting(s.slice(0, eq), s.slice(eq + 1)) };
  }
  checkOverrides(overrides);
  return validateConfig({ ...cfg, ...overrides });
}

/** E/G steps per run of `preset`'s ablation sweep (the default of `bigbigan sweep --steps`, notebook 02's full mode). */
export function sweepSteps(preset: string): number {
  return PRESETS[preset]?.sweepSteps ?? DEFAULT_SWEEP_STEPS;
}
