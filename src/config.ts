/**
 * Every switch of a BigBiGAN run, as one flat typed object with documented
 * defaults (nanoGPT style). Presets and ablation rows are small deltas on it
 * (presets.ts); the CLI applies preset -> ablation -> --set key=value.
 * The defaults are the `mnist` preset, the kit's main job (`npm start`): a
 * narrow BigBiGAN (channel unit 8) at batch 32.
 *
 * Where the defaults depart from the paper, and why (measured; README,
 * "The encoder recipe"): at this scale the paper's objective trains G but not
 * E (its z stays noise, D ignores whether z goes with x). Four switches make E
 * learn; `--ablation paper` sets all four back (PAPER_OBJECTIVE):
 *  - dJoint 'pairing': D's joint score is a batch-centred projection that sees
 *    only the pairing of x and z (the paper's J sees realness too, and uses it);
 *  - gJointWeight 0: G learns from s_x alone, so it does not undo what D learns
 *    of the pairing; only E follows it;
 *  - eLatentRegression 10: E also regresses z from G(z) (BiGAN's latent
 *    regressor baseline), G's images held fixed;
 *  - zDim 16 and D at channel unit 16 (dCh, dMlp 256): a latent E can invert
 *    within a few thousand steps, and a D that can tell pairs apart.
 */
export interface Config {
  // ---- data
  /** 'mnist' (embedded), 'fashion', 'cifar10' or 'imagefolder'. */
  dataset: 'mnist' | 'fashion' | 'cifar10' | 'imagefolder';
  /** Folder of the dataset ('' = the dataset's default location). */
  dataPath: string;
  /** Image channels (1 grey, 3 RGB). */
  channels: number;
  /** Side of G's output and of the images D's F sees. */
  resolution: number;
  /** Side of E's input; > resolution is the paper's "high resolution E" (D sees the real image average-pooled). */
  eResolution: number;
  /** Random crop (pixels of shift) and horizontal flip of real images. */
  augmentCrop: number;
  augmentFlip: boolean;

  // ---- latent
  /** Size of z. */
  zDim: number;
  /** Prior P_z: 'gaussian' N(0, I) (the paper's Base) or 'uniform' U(-1, 1). */
  latent: 'gaussian' | 'uniform';

  // ---- G: unconditional BigGAN generator
  /** Channel unit of G; block widths are multiples of it (gMults). */
  gCh: number;
  /** Width multipliers: gMults[0] at 4x4, then one per up-block; length = log2(resolution/4) + 1 ('' = derived from resolution). */
  gMults: number[];
  /** Resolution after whose block G applies self-attention (0 = none). */
  gAttention: number;

  // ---- E
  /** 'convnet' (bench32's plain stack), 'resnet' or 'revnet' (reversible residual). */
  eArch: 'convnet' | 'resnet' | 'revnet';
  /** Channel unit of E (before eWidth). */
  eCh: number;
  /** Width multiplier of E (the paper's x1, x2, x4). */
  eWidth: number;
  /** Residual blocks per stage (resnet/revnet); its length is the number of stages. */
  eBlocks: number[];
  /** Bottleneck blocks (ResNet-50 style) instead of basic blocks. */
  eBottleneck: boolean;
  /** Hidden width of E's MLP head. */
  eMlp: number;
  /** Stochastic E (mu and sigma, z = mu + eps sigma) or deterministic (mu only). */
  eStochastic: boolean;
  /**
   * Batch-normalise E's mean (no learned gain or bias) so that z's marginal has the prior's mean 0 and
   * variance 1 per dimension from the first step: D's s_z then cannot separate E's z from P_z by their
   * first two moments, and what remains for D to find is whether z belongs to x. The paper: false.
   */
  eNormalizeMean: boolean;
  /**
   * σ of the stochastic E where its head outputs sigma_hat = 0: σ = softplus(sigma_hat + softplus⁻¹(eSigmaInit)).
   * The paper's plain softplus is ln 2 = 0.6931; smaller starts E with less noise than signal.
   */
  eSigmaInit: number;

  // ---- D = F, H, J
  /** Channel unit of F (BigGAN discriminator trunk). */
  dCh: number;
  /** Width multipliers of F's down-blocks (length = number of blocks). */
  dMults: number[];
  /** Resolution after whose block F applies self-attention (0 = none). */
  dAttention: number;
  /** Width of H's and J's MLPs. */
  dMlp: number;
  /**
   * D's joint score s_xz. 'mlp' (the paper): θ_xz·J(F(x), H(z)), J an MLP on the concatenation.
   * 'projection': that plus ⟨V F(x), H(z)⟩ (V spectrally normalised; the projection discriminator of
   * Miyato & Koyama 2018). 'pairing': ⟨V (F(x) − F̄), H(z) − H̄⟩ alone, F̄ and H̄ the batch's means: a
   * score that cannot see either marginal (the unary heads s_x, s_z do), only whether z goes with x.
   */
  dJoint: 'mlp' | 'projection' | 'pairing';
  /** Unary score terms kept in the losses: 'both' (Base), 'x' (x unary only), 'z' (z unary only), 'none' (BiGAN). */
  unary: 'both' | 'x' | 'z' | 'none';
  /**
   * Weight λ of the joint score in G's own loss: generated pairs contribute -(s_x + s_z + λ s_xz) to L_EG
   * (E's real-pair part is unchanged). The paper: 1. With 0, G learns from s_x alone (a plain GAN) and only
   * E follows what D learns of the pairing of x and z, so E is pulled towards G⁻¹ without G moving away.
   */
  gJointWeight: number;
  /**
   * Weight of a latent regression in E's loss, mean (E(G(z)) − z)² with G's images held fixed (BiGAN's
   * latent-regressor baseline, ALICE's z-cycle): E also learns to invert G on G's own samples. The paper: 0.
   */
  eLatentRegression: number;
  /**
   * The latent regression also trains G (through E): G is pushed to make z recoverable from its images, as
   * InfoGAN's and ALICE's cycle terms do. The paper: false (and eLatentRegression 0).
   */
  latentRegressionG: boolean;
  /** Train without E (a plain BigGAN; D's F and s_x only). */
  noEncoder: boolean;

  // ---- optimisation
  batchSize: number;
  /** E/G steps of the run. */
  steps: number;
  /** D steps per E/G step. */
  dSteps: number;
  lrG: number;
  lrD: number;
  /**
   * E's learning rate = lrG x eLrMult (the paper's decoupled E optimisation: 10 x G's 5e-5).
   * Small scale: G's lr is 2e-4, and 2.5 keeps E's at the paper's 5e-4 (10 gave messier samples at 300 steps).
   */
  eLrMult: number;
  /**
   * Fraction of the run, at its end, over which every learning rate falls linearly to 0 (0.33: constant for the
   * first two thirds of `steps`, then down to 0 at the last step). The paper: 0 (constant). A schedule of `steps`,
   * so a run cut short by --minutes, or resumed with more steps, follows the new run length.
   */
  lrDecay: number;
  /** Adam's β1: 0.5 (DCGAN's) at small scale; the paper's BigGAN setting 0 in bench32 and imagenet128. */
  beta1: number;
  beta2: number;
  /** Decay of the exponential moving average of G's weights. */
  emaDecay: number;
  /** Step from which the EMA follows G (before it, it copies G). */
  emaStart: number;
  /**
   * Initialisation of G and D ('ortho' as BigGAN; E always uses 'he'). Under
   * spectral norm the scale of a weight does not change the function but sets
   * Adam's relative step: N(0, 0.02) ('normal') moves weights 3-6x faster than
   * orthogonal init (entries ~1/√fan_in) at the same lr, which is what a
   * 400-step run needs (measured: digits by step 200 instead of grey blobs).
   */
  init: 'ortho' | 'normal';
  seed: number;

  // ---- outputs
  /** Steps between sample/reconstruction grids. */
  sampleEvery: number;
  /** Steps between checkpoints. */
  checkpointEvery: number;
  /** Checkpoints kept. */
  keepCheckpoints: number;

  // ---- evaluation during training (src/eval)
  /** Steps between quick evaluations appended to metrics.jsonl (FID, IS, probe top-1, class consistency); 0 = none. */
  evalEvery: number;
  /**
   * Steps between encoder diagnostics appended to metrics.jsonl (eval/diagnostics.ts: E's signal-to-noise, D's pairing gap,
   * latent recovery, D's accuracy per head); 0 = none.
   */
  diagEvery: number;
  /** A local tfjs Inception-v3 folder as FID/IS feature network ('' = the dataset's own classifier). */
  inceptionPath: string;
}

export const DEFAULT_CONFIG: Config = {
  dataset: 'mnist',
  dataPath: '',
  channels: 1,
  resolution: 32,
  eResolution: 32,
  augmentCrop: 0,
  augmentFlip: false,
  zDim: 16,
  latent: 'gaussian',
  gCh: 8,
  gMults: [4, 4, 2, 1],
  gAttention: 16,
  eArch: 'resnet',
  eCh: 8,
  eWidth: 1,
  eBlocks: [1, 1, 1],
  eBottleneck: false,
  eMlp: 128,
  eStochastic: true,
  eNormalizeMean: false,
  eSigmaInit: Math.LN2,
  dCh: 16,
  dMults: [1, 2, 4],
  dAttention: 16,
  dMlp: 256,
  dJoint: 'pairing',
  unary: 'both',
  gJointWeight: 0,
  eLatentRegression: 10,
  latentRegressionG: false,
  noEncoder: false,
  batchSize: 32,
  steps: 1000,
  dSteps: 1,
  lrG: 2e-4,
  lrD: 2e-4,
  eLrMult: 2.5,
  lrDecay: 0,
  beta1: 0.5,
  beta2: 0.999,
  emaDecay: 0.99,
  emaStart: 100,
  init: 'normal',
  seed: 0,
  sampleEvery: 50,
  checkpointEvery: 150,
  keepCheckpoints: 3,
  evalEvery: 200,
  diagEvery: 100,
  inceptionPath: '',
};

/** The paper's objective, where the small-scale defaults depart from it (the `paper` ablation row; bench32, imagenet128). */
export const PAPER_OBJECTIVE: Pick<Config, 'dJoint' | 'gJointWeight' | 'eLatentRegression' | 'latentRegressionG'> = {
  dJoint: 'mlp', gJointWeight: 1, eLatentRegression: 0, latentRegressionG: false,
};

/**
 * The values a key accepts. `int`: a whole number in [min, max]; `number`: a finite number in
 * [min, max], `openMin` / `openMax` making an end open; `ints`: a non-empty list of whole numbers ≥ min.
 */
export type KeyRange =
  | { kind: 'int'; min: number; max?: number }
  | { kind: 'number'; min: number; max?: number; openMin?: boolean; openMax?: boolean }
  | { kind: 'bool' }
  | { kind: 'choice'; values: ReadonlyArray<string | number> }
  | { kind: 'ints'; min: number }
  | { kind: 'string' };

const int = (min: number, max?: number): KeyRange => ({ kind: 'int', min, max });
const positive: KeyRange = { kind: 'number', min: 0, openMin: true };
const nonNegative: KeyRange = { kind: 'number', min: 0 };
const unitOpen: KeyRange = { kind: 'number', min: 0, max: 1, openMax: true };
const ints: KeyRange = { kind: 'ints', min: 1 };
const bool: KeyRange = { kind: 'bool' };

/**
 * The range of every key, stated once: config_check.ts enforces it (and the checks between keys)
 * for the CLI's --set, the presets and ablation rows, the notebooks, the sweeps and the queue workers.
 */
export const CONFIG_RANGES: { readonly [K in keyof Config]: KeyRange } = {
  dataset: { kind: 'choice', values: ['mnist', 'fashion', 'cifar10', 'imagefolder'] },
  dataPath: { kind: 'string' },
  channels: { kind: 'choice', values: [1, 3] },
  resolution: int(4),
  eResolution: int(4),
  augmentCrop: int(0),
  augmentFlip: bool,
  zDim: int(1),
  latent: { kind: 'choice', values: ['gaussian', 'uniform'] },
  gCh: int(1),
  gMults: ints,
  gAttention: int(0),
  eArch: { kind: 'choice', values: ['convnet', 'resnet', 'revnet'] },
  eCh: int(1),
  eWidth: int(1),
  eBlocks: ints,
  eBottleneck: bool,
  eMlp: int(1),
  eStochastic: bool,
  eNormalizeMean: bool,
  eSigmaInit: positive,
  dCh: int(1),
  dMults: ints,
  dAttention: int(0),
  dMlp: int(1),
  dJoint: { kind: 'choice', values: ['mlp', 'projection', 'pairing'] },
  unary: { kind: 'choice', values: ['both', 'x', 'z', 'none'] },
  gJointWeight: nonNegative,
  eLatentRegression: nonNegative,
  latentRegressionG: bool,
  noEncoder: bool,
  batchSize: int(2),  // batch norm and D's batch-centred pairing need two images
  steps: int(1),
  dSteps: int(1),
  lrG: positive,
  lrD: positive,
  eLrMult: positive,
  lrDecay: { kind: 'number', min: 0, max: 1 },
  beta1: unitOpen,
  beta2: unitOpen,
  emaDecay: { kind: 'number', min: 0, max: 1 },
  emaStart: int(0),
  init: { kind: 'choice', values: ['ortho', 'normal'] },
  seed: int(0, 2 ** 31 - 1),
  sampleEvery: int(1),
  checkpointEvery: int(1),
  keepCheckpoints: int(1),
  evalEvery: int(0),
  diagEvery: int(0),
  inceptionPath: { kind: 'string' },
};
