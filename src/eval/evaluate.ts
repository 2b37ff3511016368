/**
 * The kit's standard evaluation of a BigBiGAN checkpoint, the three things
 * the paper measures (Donahue & Simonyan 2019, arXiv:1907.02544):
 *  - representation: linear probe and k-NN on E's frozen features, beside
 *    the random-init E and raw-pixel baselines (probe.ts; Table 2);
 *  - generation: FID and IS of G_ema and of the raw G (generation.ts; Table 3);
 *  - reconstruction: x → G(E(x)) pixel error and class consistency
 *    (reconstruction.ts; Fig. 2), with a picture.
 * `Evaluator` holds what every evaluation of one run shares (the data, the
 * feature network, the real images' FID statistics), so that the trainer can
 * evaluate every N steps cheaply (`quickMetrics`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Config } from '../config';
import { batches, Dataset, takeFirst } from '../data';
import { writeFileAtomic } from '../util/fs_safe';
import { Models } from '../model/bigbigan';
import { loadModels } from '../train/run_checkpoint';
import { loadRunDataset } from '../train/run_data';
import { renderOptionsFor } from './features';
import { datasetFeatureNet, FeatureNet } from './feature_net';
import { loadInceptionFeatureNet } from './inception';
import { GaussianStats } from './fid';
import { evaluateGeneration, GenerationReport, realStats } from './generation';
import { evaluateRepresentation, formatRepresentationReport, RepresentationReport } from './probe';
import { evaluateReconstruction, ReconstructionReport, writeReconstructionGrid } from './reconstruction';

/** What an evaluation measures and how much data it spends. */
export interface EvalSettings {
  /** Generated images for FID/IS per G; default 2000. */
  samples: number;
  /** Real test images of FID's reference statistics; default 2000. */
  realImages: number;
  /** Probe / k-NN training examples; default 10000 (0 skips the representation). */
  probeTrain: number;
  /** trainVal and test examples the probe and k-NN are scored on; default 2000. */
  probeEval: number;
  /** Test images reconstructed; default 1000 (0 skips). */
  reconstructions: number;
  /** Evaluate the raw G besides G_ema; default true. */
  rawG: boolean;
  /** Random-init E and pixel baselines beside the probe; default true. */
  baselines: boolean;
}

export const FULL_EVAL: EvalSettings = {
  samples: 2000, realImages: 2000, probeTrain: 10000, probeEval: 2000, reconstructions: 1000, rawG: true, baselines: true,
};

/** What the trainer runs every cfg.evalEvery steps: a few seconds on the mnist preset. */
export const QUICK_EVAL: EvalSettings = {
  samples: 1000, realImages: 1000, probeTrain: 2000, probeEval: 1000, reconstructions: 500, rawG: false, baselines: true,
};

export interface EvalReport {
  step: number;
  checkpoint: string | null;
  feature_net: { name: string; test_accuracy: number | null };
  generation: { ema: GenerationReport; raw: GenerationReport | null };
  representation: RepresentationReport | null;
  reconstruction: ReconstructionReport | null;
  seconds: number;
}

/** Options of Evaluator.create. */
export interface EvaluatorOptions {
  /** A local tfjs Inception-v3 folder (feature_net.ts) instead of the dataset's own classifier. */
  inception?: string;
  /** Feature-net cache root (feature_net.ts defaultCacheDir). */
  cacheDir?: string;
  /** Training steps of the dataset classifier when it is not cached yet (feature_net.ts default). */
  featureNetSteps?: number;
  /**
   * Side at which FID, IS and class consistency are measured (default: G's
   * resolution). A sweep fixes it so that rows whose G makes 16x16 or 64x64
   * images are scored by the same feature net on the same real statistics
   * (their images are resized to it).
   */
  resolution?: number;
  /** The dataset, when the caller has it loaded already. */
  dataset?: Dataset;
  quiet?: boolean;
}

/** The shared parts of every evaluation of runs of one config: data, feature net, real FID statistics. */
export class Evaluator {
  private realCache = new Map<number, GaussianStats>();
  private baselineRows = new Map<string, RepresentationReport['rows']>();

  /** Progress lines while evaluating (the trainer turns them off). */
  progress: boolean;

  private constructor(readonly cfg: Config, readonly dataset: Dataset, readonly net: FeatureNet, readonly resolution: number,
                      quiet: boolean) {
    this.progress = !quiet;
  }

  static async create(cfg: Config, opts: EvaluatorOptions = {}): Promise<Evaluator> {
    const dataset = opts.dataset ?? await loadRunDataset(cfg);
    const resolution = opts.resolution ?? cfg.resolution;
    const net = opts.inception
      ? await loadInceptionFeatureNet(opts.inception)
      : await datasetFeatureNet(dataset, { resolution, cacheDir: opts.cacheDir, steps: opts.featureNetSteps, quiet: opts.quiet });
    return new Evaluator(cfg, dataset, net, resolution, opts.quiet ?? false);
  }

  /** FID's reference: statistics of the first `n` test images, computed once. */
  async real(n: number): Promise<GaussianStats> {
    let s = this.realCache.get(n);
    if (s === undefined) {
      s = await realStats(this.net, this.dataset.test, this.resolution, { limit: n, progress: this.progress });
      this.realCache.set(n, s);
    }
    return s;
  }

  /** Every figure of `settings` for `models` (a checkpoint's, or a training run's live ones). */
  async evaluate(models: Models, step: number, settings: EvalSettings = FULL_EVAL,
                 opts: { checkpoint?: string; evalDir?: string } = {}): Promise<EvalReport> {
    const start = Date.now();
    const progress = this.progress;
    const real = await this.real(settings.realImages);
    const gen = (ema: boolean) => evaluateGeneration(models, this.net, real, { samples: settings.samples, ema, progress });
    const hasE = models.E !== null;
    const representation = hasE && settings.probeTrain > 0 ? await this.representation(models, settings, progress, opts) : null;
    const reconstruction = hasE && settings.reconstructions > 0
      ? await evaluateReconstruction(models, this.net, this.dataset.test, { limit: settings.reconstructions, progress })
      : null;
    if (hasE && opts.evalDir) {
      fs.mkdirSync(opts.evalDir, { recursive: true });
      const part = takeFirst(this.dataset.test, 24);
      const { x } = batches(part, { ...renderOptionsFor(models.cfg, part), batchSize: 24, shuffle: false }).next().value!;
      try {
        await writeReconstructionGrid(path.join(opts.evalDir, `recon-${String(step).padStart(8, '0')}.png`), models, x);
      } finally {
        x.dispose();
      }
    }
    const ema = await gen(true), raw = settings.rawG ? await gen(false) : null;
    return {
      step, checkpoint: opts.checkpoint ?? null,
      feature_net: { name: this.net.name, test_accuracy: this.net.testAccuracy },
      generation: { ema, raw },
      representation, reconstruction, seconds: (Date.now() - start) / 1000,
    };
  }

  /** Probe and k-NN rows; the baselines (random-init E, pixels) depend on the config only: computed once per evaluator. */
  private async representation(models: Models, settings: EvalSettings, progress: boolean,
                               opts: { checkpoint?: string; evalDir?: string }): Promise<RepresentationReport> {
    const key = `${settings.probeTrain}/${settings.probeEval}`;
    const known = settings.baselines ? this.baselineRows.get(key) : undefined;
    const report = await evaluateRepresentation(models, this.dataset, {
      limitTrain: settings.probeTrain, limitEval: settings.probeEval, baselines: settings.baselines && known === undefined, progress,
      ...(opts.checkpoint && opts.evalDir ? { cacheDir: opts.evalDir, checkpoint: opts.checkpoint } : {}),
    });
    if (known !== undefined) report.rows.push(...known);
    else if (settings.baselines) this.baselineRows.set(key, report.rows.filter((r) => r.source !== 'trained'));
    return report;
  }

  dispose(): void {
    this.net.dispose();
  }
}

/** The headline numbers of a report, flat, for metrics.jsonl (probe figures: the avepool feature). */
export function flatMetrics(r: EvalReport): Record<string, number | null> {
  const row = (source: string) => r.representation?.rows.find(
    (w) => w.source === source && (w.feature === 'avepool' || source === 'pixels'));
  const out: Record<string, number | null> = {
    fid: r.generation.ema.fid, is: r.generation.ema.is_mean,
    probe_top1: row('trained')?.probe_top1_test ?? null,
    probe_top5: row('trained')?.probe_top5_test ?? null,
    probe_top1_random_init: row('random-init')?.probe_top1_test ?? null,
    probe_top1_pixels: row('pixels')?.probe_top1_test ?? null,
    knn1: row('trained')?.knn1_test ?? null,
    knn1_random_init: row('random-init')?.knn1_test ?? null,
    knn1_pixels: row('pixels')?.knn1_test ?? null,
    class_consistency: r.reconstruction?.class_consistency_mean ?? null,
    recon_mse: r.reconstruction?.mse_mean ?? null,
  };
  if (r.generation.raw) { out.fid_raw = r.generation.raw.fid; out.is_raw = r.generation.raw.is_mean; }
  return out;
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? '  -  ' : (100 * v).toFixed(1).padStart(5));

/** A report as text: generation, reconstruction, then the representation table with its baselines. */
export function formatEvalReport(r: EvalReport): string {
  const g = (name: string, x: GenerationReport | null) => x
    ? `  ${name.padEnd(6)} FID ${x.fid.toFixed(2).padStart(8)}   IS ${x.is_mean.toFixed(2)} ± ${x.is_std.toFixed(2)}` +
      `   (${x.samples} samples)`
    : null;
  const lines = [
    `step ${r.step}${r.checkpoint ? ` (${r.checkpoint})` : ''}; feature net ${r.feature_net.name}` +
      (r.feature_net.test_accuracy !== null ? ` (test accuracy ${pct(r.feature_net.test_accuracy).trim()}%)` : ''),
    'generation:', g('G_ema', r.generation.ema), g('raw G', r.generation.raw),
  ].filter((l): l is string => l !== null);
  const rc = r.reconstruction;
  if (rc) {
    lines.push(`reconstruction (${rc.n} test images, G_ema): MSE z_mean ${rc.mse_mean.toFixed(4)}, z_sample ${rc.mse_sample.toFixed(4)}; ` +
      `class consistency z_mean ${pct(rc.class_consistency_mean).trim()}%, z_sample ${pct(rc.class_consistency_sample).trim()}%; ` +
      `true class ${pct(rc.label_accuracy_mean).trim()}% (inputs themselves ${pct(rc.input_accuracy).trim()}%)`);
  }
  if (r.representation) lines.push('representation:', formatRepresentationReport(r.representation));
  lines.push(`(${r.seconds.toFixed(0)} s)`);
  return lines.join('\n');
}

/** A run folder's checkpoint of `step` (ckpt-<step>.bin), or one clear error listing the steps it has. */
export function checkpointOfStep(dir: string, step: number): string {
  const file = path.join(dir, `ckpt-${String(step).padStart(8, '0')}.bin`);
  if (!fs.existsSync(file)) {
    const steps = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => /^ckpt-\d+\.bin$/.test(f)).map((f) => Number(f.slice(5, -4))) : [];
    throw new Error(`Expected a checkpoint of step ${step} in ${dir}, but it has ${steps.length ? `steps ${steps.join(', ')}` : 'none'}`);
  }
  return file;
}

/** `settings` with every test-split count raised to `images` (e.g. 10000: the whole MNIST test split). */
export function withTestImages(settings: EvalSettings, images: number): EvalSettings {
  return { ...settings, samples: images, realImages: images, probeEval: images, reconstructions: images };
}

/** Evaluates the newest checkpoint of a run folder (or a checkpoint file); writes eval-<step>.json and pictures to <run>/eval. */
export async function evaluateCheckpoint(fileOrDir: string, settings: EvalSettings = FULL_EVAL,
                                         opts: EvaluatorOptions = {}): Promise<EvalReport> {
  const { models, step, file } = loadModels(fileOrDir);
  const evaluator = await Evaluator.create(models.cfg, opts);
  try {
    const evalDir = path.join(path.dirname(file), 'eval');
    const report = await evaluator.evaluate(models, step, settings, { checkpoint: file, evalDir });
    fs.mkdirSync(evalDir, { recursive: true });  // also without E (no grid written)
    writeFileAtomic(path.join(evalDir, `eval-${String(step).padStart(8, '0')}.json`), JSON.stringify(report, null, 2) + '\n');
    return report;
  } finally {
    evaluator.dispose();
    for (const p of [models.G, models.E, models.D, models.gEma]) p?.dispose();
  }
}
