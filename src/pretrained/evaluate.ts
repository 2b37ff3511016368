/**
 * The paper's unsupervised evaluation of the released BigBiGAN on an
 * ImageNet-style folder (Donahue & Simonyan 2019, arXiv:1907.02544, Sec. 4 and
 * Table 2): a linear classifier (eval/probe.ts linearProbe) trained on E's
 * frozen avepool or BN+CReLU features of the folder's train split, top-1 and
 * top-5 on its val split; reconstructions x -> G(E(x)) and samples G(z) as
 * picture grids.
 *
 * Images stream through: each batch is decoded at E's side (sharp, short side
 * scaled and centre-cropped: data/imagefolder.ts), encoded, and only its
 * feature vectors are kept (n x d floats per feature: 50k bn_crelu features of
 * the ResNet-50 are 0.8 GB), while the next batch decodes. Features are cached
 * in the output folder (eval/features.ts file format) under a key of the
 * encoder's files and the image files' paths, sizes and times.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { decodeImages, ImageFile, imageFolderFiles, makeSplit, splitToTensor } from '../data';
import { Features, readFeatures, writeFeatures } from '../eval/features';
import { fitInput } from '../eval/feature_net';
import { linearProbe, ProbeOptions } from '../eval/probe';
import { writeReconstructionRows } from '../eval/reconstruction';
import { writeFileAtomic } from '../util/fs_safe';
import { writeImageGrid } from '../util/png';
import { Progress } from '../util/progress';
import { PretrainedBigBiGAN } from './model';
import { PAPER_TABLE2 } from './signatures';

export type PretrainedFeature = 'avepool' | 'bn_crelu';
export const PRETRAINED_FEATURES: readonly PretrainedFeature[] = ['avepool', 'bn_crelu'];

/** Options of pretrainedFeatures. */
export interface StreamOptions {
  /** Images per forward pass; default 32. */
  batchSize?: number;
  progress?: boolean;
  /** The split's name, in the progress line and the cache file name; default 'images'. */
  label?: string;
  /** Cache folder of the features (see the file comment); none: always computed. */
  cacheDir?: string;
}

/** A fingerprint of every file of the encoder's folder (name, size, time): a re-converted model never gets stale features. */
function encoderFingerprint(model: PretrainedBigBiGAN): string {
  const dir = path.join(model.dir, 'encode');
  return fs.readdirSync(dir).sort().map((n) => {
    const s = fs.statSync(path.join(dir, n));
    return `${n}|${s.size}|${s.mtimeMs}`;
  }).join(';');
}

/** The cache file of `kind` for `files`. */
function cacheFile(dir: string, model: PretrainedBigBiGAN, files: ImageFile[], kind: PretrainedFeature, label: string): string {
  const h = createHash('sha1').update(`${path.resolve(model.dir)}|${encoderFingerprint(model)}|${model.eResolution}|${kind}`);
  for (const f of files) { const s = fs.statSync(f.file); h.update(`|${f.file}|${s.size}|${s.mtimeMs}`); }
  const safe = label.replace(/[^A-Za-z0-9_.-]/g, '_');
  return path.join(dir, `features-pretrained-${safe}-${kind}-n${files.length}-${h.digest('hex').slice(0, 12)}.bin`);
}

/**
 * E's `kinds` features of `files`, in order, as plain memory: decoded batch by
 * batch at E's side, the next batch decoding while E runs on this one.
 */
export async function pretrainedFeatures(model: PretrainedBigBiGAN, files: ImageFile[], kinds: PretrainedFeature[],
                                         opts: StreamOptions = {}): Promise<Record<PretrainedFeature, Features>> {
  const side = model.eResolution;
  if (side === null) throw new Error(`Expected the encode signature of ${model.dir} to be loaded for features, but it is not`);
  const label = opts.label ?? 'images';
  const out = {} as Record<PretrainedFeature, Features>;
  const cached = new Map(kinds.map((k) => [k, opts.cacheDir ? cacheFile(opts.cacheDir, model, files, k, label) : null]));
  for (const k of kinds) {
    const hit = cached.get(k) ? readFeatures(cached.get(k)!) : null;
    if (hit !== null) out[k] = hit;
  }
  const todo = kinds.filter((k) => out[k] === undefined);
  if (todo.length === 0) return out;
  const batchSize = opts.batchSize ?? 32, n = files.length;
  const decode = (start: number) => {
    const p = decodeImages(files.slice(start, start + batchSize).map((f) => f.file), side, 3);
    p.catch(() => undefined);  // awaited below; this only keeps an early failure from counting as unhandled
    return p;
  };
  const parts = new Map<PretrainedFeature, Float32Array[]>(todo.map((k) => [k, []]));
  const bar = opts.progress && n > 0 ? new Progress(Math.ceil(n / batchSize), `features ${label}`) : null;
  let pending = n > 0 ? decode(0) : null;
  for (let start = 0, done = 1; start < n; start += batchSize, done++) {
    const bytes = await pending!;
    pending = start + batchSize < n ? decode(start + batchSize) : null;
    const count = bytes.length / (side * side * 3);
    const ts = tf.tidy(() => {
      const e = model.encode(splitToTensor(makeSplit('batch', bytes, new Int32Array(count), side, side, 3)));  // [B, S, S, 3] in [-1, 1]
      return todo.map((k) => e[k]);
    });
    try {
      const values = await Promise.all(ts.map((t) => t.data() as Promise<Float32Array>));
      todo.forEach((k, i) => parts.get(k)!.push(values[i]));
    } finally {
      tf.dispose(ts);
    }
    bar?.update(done);
  }
  bar?.finish();
  for (const k of todo) {
    const chunks = parts.get(k)!;
    const d = n > 0 ? chunks[0].length / Math.min(n, batchSize) : 0;
    const data = new Float32Array(n * d);
    chunks.reduce((offset, c) => { data.set(c, offset); return offset + c.length; }, 0);
    out[k] = { data, n, d };
    if (cached.get(k)) writeFeatures(cached.get(k)!, out[k]);
  }
  return out;
}

/** Options of evaluatePretrained. */
export interface PretrainedEvalOptions {
  /** Where the report, the pictures and the feature cache go. */
  outDir: string;
  /** Features probed; default both. */
  kinds?: PretrainedFeature[];
  /** At most this many images per split, round-robin over classes (data/imagefolder.ts `limit`); default all. */
  limit?: number;
  /** A folder without val/ or test/: the share held out as val (default 10 %) and its seed. */
  testSize?: number;
  seed?: number;
  batchSize?: number;
  /** Samples drawn and inputs reconstructed (rounded down to whole rows of 8) for the pictures (0: none); default 16. */
  pictures?: number;
  progress?: boolean;
  /** Probe settings other than numClasses (eval/probe.ts defaults). */
  probe?: Omit<ProbeOptions, 'numClasses'>;
}

/** One probe row: accuracies in [0, 1] on the val split. */
export interface PretrainedProbeRow {
  feature: PretrainedFeature;
  dim: number;
  top1: number;
  top5: number;
  train_top1: number;
}

export interface PretrainedEvalReport {
  model: string;
  dataset: string;
  numClasses: number;
  n_train: number;
  n_val: number;
  rows: PretrainedProbeRow[];
  /** The picture files written (null when not asked for or without the generate signature). */
  reconstructions: string | null;
  samples: string | null;
  seconds: number;
}

/** Writes the first `n` val images with their reconstructions from z_mean and z_sample, and `n` samples of G. */
async function writePictures(model: PretrainedBigBiGAN, files: ImageFile[], n: number,
                             outDir: string): Promise<{ reconstructions: string; samples: string }> {
  const side = model.eResolution!, gSide = model.gResolution!;
  const shown = files.length < 8 ? files.length : Math.floor(Math.min(n, files.length) / 8) * 8;  // whole rows of 8
  const bytes = await decodeImages(files.slice(0, shown).map((f) => f.file), side, 3);
  const count = bytes.length / (side * side * 3);
  const r = tf.tidy(() => {
    const x = splitToTensor(makeSplit('pictures', bytes, new Int32Array(count), side, side, 3));
    const e = model.encode(x);
    const xG = fitInput(x, gSide, gSide, 3, false, 'the pictures');  // at G's side: 2x2 average pooling for 256 -> 128
    return { x: xG, fromMean: model.generate(e.z_mean), fromSample: model.generate(e.z_sample) };
  });
  const reconstructions = path.join(outDir, 'reconstructions.png'), samples = path.join(outDir, 'samples.png');
  try {
    await writeReconstructionRows(reconstructions, r);
  } finally {
    tf.dispose([r.x, r.fromMean, r.fromSample]);
  }
  const images = tf.tidy(() => model.generate(tf.randomNormal([n, model.zDim], 0, 1, 'float32', 1)));
  try {
    await writeImageGrid(samples, images, 8);
  } finally {
    images.dispose();
  }
  return { reconstructions, samples };
}

/**
 * The linear probe on each feature kind of the image folder `root` (its train
 * split -> its val split), and the pictures; writes `outDir/pretrained-eval.json`.
 */
export async function evaluatePretrained(model: PretrainedBigBiGAN, root: string,
                                         opts: PretrainedEvalOptions): Promise<PretrainedEvalReport> {
  const start = Date.now();
  const files = imageFolderFiles(root, { limit: opts.limit, testSize: opts.testSize, seed: opts.seed });
  const numClasses = files.classNames.length;
  if (numClasses < 2) throw new Error(`Expected at least 2 class folders in ${root} for a linear probe, but got ${numClasses}`);
  if (files.test.length === 0) throw new Error(`Expected val images in ${root} to score the probe on, but got none`);
  fs.mkdirSync(opts.outDir, { recursive: true });
  const kinds = opts.kinds ?? [...PRETRAINED_FEATURES];
  const stream = { batchSize: opts.batchSize, progress: opts.progress, cacheDir: opts.outDir };
  const train = await pretrainedFeatures(model, files.train, kinds, { ...stream, label: 'train' });
  const val = await pretrainedFeatures(model, files.test, kinds, { ...stream, label: 'val' });
  const labels = (list: ImageFile[]) => Int32Array.from(list, (f) => f.label);
  const rows: PretrainedProbeRow[] = [];
  for (const feature of kinds) {
    const result = await linearProbe(train[feature], labels(files.train), { val: { features: val[feature], labels: labels(files.test) } },
                                     { ...opts.probe, numClasses });
    rows.push({ feature, dim: train[feature].d, top1: result.top1.val, top5: result.top5.val, train_top1: result.trainTop1 });
  }
  const n = opts.pictures ?? 16;
  const pictures = n > 0 && model.signatures.includes('generate') ? await writePictures(model, files.test, n, opts.outDir) : null;
  const report: PretrainedEvalReport = {
    model: model.dir, dataset: files.name, numClasses, n_train: files.train.length, n_val: files.test.length, rows,
    reconstructions: pictures?.reconstructions ?? null, samples: pictures?.samples ?? null, seconds: (Date.now() - start) / 1000,
  };
  writeFileAtomic(path.join(opts.outDir, 'pretrained-eval.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}

const pct = (v: number) => (Number.isNaN(v) ? '-' : (100 * v).toFixed(1));

/** The report as text: the probe table, the pictures, and the paper's figures for the released models beside it. */
export function formatPretrainedReport(r: PretrainedEvalReport): string {
  const head = ['feature', 'dim', 'top-1 %', 'top-5 %', 'train top-1 %'];
  const body = r.rows.map((w) => [w.feature, String(w.dim), pct(w.top1), pct(w.top5), pct(w.train_top1)]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((row) => row[j].length)));
  const line = (row: string[]) => row.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  const paper = PAPER_TABLE2.map((p) => `${p.encoder} ${p.feature} ${p.top1}/${p.top5}`).join(', ');
  return [
    `Linear probe of ${r.model} on ${r.dataset} (${r.numClasses} classes): trained on ${r.n_train} train images, ` +
      `scored on ${r.n_val} val images; chance ${pct(1 / r.numClasses)}%`,
    line(head), ...body.map(line),
    ...(r.reconstructions ? [`reconstructions x / G(z_mean) / G(z_sample): ${r.reconstructions}`, `samples G(z): ${r.samples}`] : []),
    `The paper, full ImageNet train -> val (arXiv:1907.02544, Table 2, top-1/top-5 %): ${paper}`,
    `(${r.seconds.toFixed(0)} s)`,
  ].join('\n');
}
