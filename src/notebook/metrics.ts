/**
 * A run's metrics.jsonl (src/run/train_run.ts) as rows and chart series: one line per
 * E/G step (losses, scores, learning rates, img/s) and, every cfg.evalEvery
 * steps, a line with `kind: 'eval'` (fid, is, fid_raw, is_raw, probe_top1,
 * probe_top1_random_init, probe_top1_pixels, knn1, class_consistency,
 * recon_mse) and, every cfg.diagEvery steps, one with `kind: 'diag'` (the
 * encoder diagnostics of src/eval/diagnostics.ts: e_snr, pair_gap_real,
 * pair_gap_fake, latent_recovery, d_acc_*). The file may be growing while it
 * is read: a partial last line is skipped.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { Series } from './plotly';

/** One metrics line: numbers, and a few strings (backend, time, kind). */
export interface MetricRow {
  step: number;
  kind?: string;
  [key: string]: number | string | null | undefined;
}

export interface Metrics {
  /** The per-step training lines, in file order. */
  train: MetricRow[];
  /** The `kind: 'eval'` lines, in file order. */
  eval: MetricRow[];
  /** The `kind: 'diag'` lines (encoder diagnostics), in file order. */
  diag: MetricRow[];
}

/** Parses metrics.jsonl text; lines that are not complete JSON objects with a numeric step are skipped. */
export function parseMetrics(text: string): Metrics {
  const out: Metrics = { train: [], eval: [], diag: [] };
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      continue;  // a line still being written
    }
    if (row === null || typeof row !== 'object' || typeof (row as MetricRow).step !== 'number') continue;
    const kind = (row as MetricRow).kind;
    (kind === 'eval' ? out.eval : kind === 'diag' ? out.diag : out.train).push(row as MetricRow);
  }
  return out;
}

/**
 * The metrics of a run folder (or of a metrics.jsonl file); empty when there is none yet. A finished sweep run
 * keeps its metrics gzipped (sweep/plan.ts): metrics.jsonl.gz is read when metrics.jsonl is not there.
 */
export function readMetrics(runOrFile: string): Metrics {
  const file = runOrFile.endsWith('.jsonl') ? runOrFile : path.join(runOrFile, 'metrics.jsonl');
  if (fs.existsSync(file)) return parseMetrics(fs.readFileSync(file, 'utf8'));
  if (fs.existsSync(`${file}.gz`)) return parseMetrics(zlib.gunzipSync(fs.readFileSync(`${file}.gz`)).toString('utf8'));
  return { train: [], eval: [], diag: [] };
}

/** Exponential moving average of a noisy curve (alpha = weight of the new value); nulls stay null and do not move the average. */
export function smooth(values: Array<number | null>, alpha = 0.1): Array<number | null> {
  let avg: number | null = null;
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return null;
    avg = avg === null ? v : avg + alpha * (v - avg);
    return avg;
  });
}

/** A numeric field of a row, or null (missing, null, a string, NaN). */
export function numberOf(row: MetricRow, key: string): number | null {
  const v = row[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * One series per key against `step`: y is null where a row lacks the key.
 * Keys no row has are left out. `names` relabels keys for the legend.
 */
export function metricSeries(rows: MetricRow[], keys: string[],
                             opts: { smooth?: number; names?: Record<string, string>; markers?: boolean } = {}): Series[] {
  const x = rows.map((r) => r.step);
  return keys.filter((k) => rows.some((r) => numberOf(r, k) !== null)).map((k) => {
    const y = rows.map((r) => numberOf(r, k));
    return { name: opts.names?.[k] ?? k, x, y: opts.smooth ? smooth(y, opts.smooth) : y, markers: opts.markers };
  });
}

/** The last eval line of a run (null without one). */
export function lastEval(m: Metrics): MetricRow | null {
  return m.eval.length > 0 ? m.eval[m.eval.length - 1] : null;
}

/** Seconds between the first and the last training line (the run's training wall time, evaluations included). */
export function wallSeconds(m: Metrics): number | null {
  const times = m.train.map((r) => (typeof r.time === 'string' ? Date.parse(r.time) : NaN)).filter(Number.isFinite);
  return times.length < 2 ? null : (times[times.length - 1] - times[0]) / 1000;
}
