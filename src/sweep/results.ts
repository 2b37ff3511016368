/**
 * The results table of an ablation sweep (data/results/<dataset>-ablations/results.csv):
 * one line per (row, seed) with its generation, representation (beside the random-init E and
 * pixel baselines) and reconstruction figures. Written by `bigbigan sweep` (sweep/plan.ts), read
 * by the ablation notebook (notebook/ablations.ts) and `bigbigan results` (sweep/report.ts),
 * summarised over seeds here, with what training added (GAIN_METRICS). No tfjs here.
 */
import * as fs from 'fs';

/**
 * The columns of a results table; `status` is 'done' or 'diverged' (training
 * stopped at a non-finite loss: figures empty), `run` the run folder.
 */
export const RESULT_COLUMNS = ['row', 'seed', 'steps', 'IS', 'FID', 'probe_top1', 'probe_top5', 'knn1', 'class_consistency', 'wall_s',
                               'probe_top1_random_init', 'knn1_random_init', 'probe_top1_pixels', 'knn1_pixels', 'status', 'run'] as const;
export type ResultColumn = (typeof RESULT_COLUMNS)[number];
/** The figures of a results line (empty in tables written before a column existed: read as null). */
export const RESULT_METRICS = ['IS', 'FID', 'probe_top1', 'probe_top5', 'knn1', 'class_consistency', 'wall_s',
                               'probe_top1_random_init', 'knn1_random_init', 'probe_top1_pixels', 'knn1_pixels'] as const;
export type ResultMetric = (typeof RESULT_METRICS)[number];
/**
 * What BigBiGAN training added to E, per seed: the trained figure minus its own random-init E's
 * (same seed, same evaluation); null where the seed has no baseline.
 */
export const GAIN_METRICS = { probe_top1_gain: ['probe_top1', 'probe_top1_random_init'], knn1_gain: ['knn1', 'knn1_random_init'] } as const;
/** The figures a row is summarised by (mean and spread over seeds): the table's and the gains. */
export const SUMMARY_METRICS = [...RESULT_METRICS, ...(Object.keys(GAIN_METRICS) as Array<keyof typeof GAIN_METRICS>)];
export type SummaryMetric = (typeof SUMMARY_METRICS)[number];

/** One (row, seed) result; null where a figure does not exist (e.g. no probe without E). */
export type ResultRow = { row: string; seed: number; steps: number; status?: string; run?: string } & Record<ResultMetric, number | null>;

/** Parses CSV text (RFC 4180: quotes, doubled quotes, commas and newlines inside quotes) into rows of strings keyed by the header. */
export function parseCsv(text: string): Array<Record<string, string>> {
  const records: string[][] = [];
  let field = '', record: string[] = [], quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field); field = '';
      if (record.some((f) => f !== '')) records.push(record);
      record = [];
    } else field += c;
  }
  record.push(field);
  if (record.some((f) => f !== '')) records.push(record);
  if (records.length === 0) return [];
  const [head, ...body] = records;
  return body.map((r) => Object.fromEntries(head.map((h, j) => [h.trim(), (r[j] ?? '').trim()])));
}

const toNumber = (v: unknown): number | null => {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};

/** Plain objects (from CSV or JSON) as ResultRows; a row without `row` is an error naming it. */
export function toResultRows(records: Array<Record<string, unknown>>, source = 'results'): ResultRow[] {
  return records.map((r, i) => {
    if (typeof r.row !== 'string' || r.row === '') {
      throw new Error(`Expected a 'row' name in line ${i + 1} of ${source}, but got ${JSON.stringify(r.row)}`);
    }
    const out = { row: r.row, seed: toNumber(r.seed) ?? 0, steps: toNumber(r.steps) ?? 0 } as ResultRow;
    for (const m of RESULT_METRICS) out[m] = toNumber(r[m]);
    for (const k of ['status', 'run'] as const) if (typeof r[k] === 'string' && r[k] !== '') out[k] = r[k] as string;
    return out;
  });
}

/**
 * The results table at `file` (.csv with RESULT_COLUMNS, or .json: an array
 * of such objects, or { rows: [...] }), or null when the file does not exist.
 */
export function readResultsTable(file: string): ResultRow[] | null {
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    const parsed = JSON.parse(text) as unknown;
    const list = Array.isArray(parsed) ? parsed : (parsed as { rows?: unknown }).rows;
    if (!Array.isArray(list)) throw new Error(`Expected an array of result rows in ${file}, but got ${typeof parsed}`);
    return toResultRows(list as Array<Record<string, unknown>>, file);
  }
  return toResultRows(parseCsv(text), file);
}

/** ResultRows as CSV text with RESULT_COLUMNS (the format of data/results/<dataset>-ablations.csv). */
export function resultsCsv(rows: ResultRow[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return [RESULT_COLUMNS.join(','), ...rows.map((r) => RESULT_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

/** A row's figures over its seeds: mean, sample standard deviation (null for one seed) and how many seeds have each. */
export interface RowSummary {
  row: string;
  seeds: number;
  steps: number;
  mean: Record<SummaryMetric, number | null>;
  std: Record<SummaryMetric, number | null>;
  n: Record<SummaryMetric, number>;
  /** The run folders of its seeds (rows whose configs are identical share them). */
  runs: string[];
}

/** Mean, sample standard deviation (null below 2 values) and count of the finite numbers among `values`. */
export function meanAndStd(values: Array<number | null>): { mean: number | null; std: number | null; n: number } {
  const v = values.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return { mean: null, std: null, n: 0 };
  const mu = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (v.length - 1)) : null;
  return { mean: mu, std, n: v.length };
}

/** A line's figure, the gains computed from its columns. */
function figureOf(r: ResultRow, m: SummaryMetric): number | null {
  if (!(m in GAIN_METRICS)) return r[m as ResultMetric];
  const [trained, init] = GAIN_METRICS[m as keyof typeof GAIN_METRICS];
  return r[trained] === null || r[init] === null ? null : r[trained]! - r[init]!;
}

/** Results grouped by row (in first-seen order), each metric averaged over the seeds that have it. */
export function summarizeResults(rows: ResultRow[]): RowSummary[] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows) groups.set(r.row, [...(groups.get(r.row) ?? []), r]);
  return [...groups].map(([row, list]) => {
    const mean = {} as RowSummary['mean'], std = {} as RowSummary['std'], n = {} as RowSummary['n'];
    for (const m of SUMMARY_METRICS) ({ mean: mean[m], std: std[m], n: n[m] } = meanAndStd(list.map((r) => figureOf(r, m))));
    return {
      row, seeds: new Set(list.map((r) => r.seed)).size, steps: Math.max(...list.map((r) => r.steps)), mean, std, n,
      runs: list.flatMap((r) => (r.run === undefined ? [] : [r.run])),
    };
  });
}

/** "mean ± std" (or the mean alone for one seed); `scale` 100 shows fractions as percentages. */
export function meanStd(s: RowSummary, m: SummaryMetric, digits = 2, scale = 1): string {
  const mu = s.mean[m];
  if (mu === null) return '';
  const sd = s.std[m];
  return sd === null ? (mu * scale).toFixed(digits) : `${(mu * scale).toFixed(digits)} ± ${(sd * scale).toFixed(digits)}`;
}

/**
 * How `s` moved against `base`, in words: generation (IS up, FID down is
 * better) and classification (probe top-1, else 1-NN, in points). A change
 * within `tolerance` (relative for IS/FID, absolute points for accuracy) is
 * "similar". Returns '' for the base row itself.
 */
export function directionVsBase(s: RowSummary, base: RowSummary, tolerance = { relative: 0.05, points: 1 }): string {
  if (s.row === base.row) return 'reference row';
  const parts: string[] = [];
  const gen: string[] = [];
  const fid = s.mean.FID, fidB = base.mean.FID, is = s.mean.IS, isB = base.mean.IS;
  if (fid !== null && fidB !== null) {
    const rel = (fid - fidB) / Math.max(1e-9, Math.abs(fidB));
    gen.push(Math.abs(rel) <= tolerance.relative ? 'FID similar'
      : `FID ${rel > 0 ? 'worse' : 'better'} (${fidB.toFixed(1)} → ${fid.toFixed(1)})`);
  }
  if (is !== null && isB !== null) {
    const rel = (is - isB) / Math.max(1e-9, Math.abs(isB));
    gen.push(Math.abs(rel) <= tolerance.relative ? 'IS similar'
      : `IS ${rel > 0 ? 'better' : 'worse'} (${isB.toFixed(2)} → ${is.toFixed(2)})`);
  }
  if (gen.length > 0) parts.push(gen.join(', '));
  const acc = (x: RowSummary) => x.mean.probe_top1 ?? x.mean.knn1;
  const a = acc(s), aB = acc(base);
  if (a === null && aB !== null) parts.push('no representation');
  else if (a !== null && aB !== null) {
    const d = 100 * (a - aB);
    parts.push(Math.abs(d) <= tolerance.points ? 'classification similar'
      : `classification ${d > 0 ? 'better' : 'worse'} (${d > 0 ? '+' : ''}${d.toFixed(1)} pts)`);
  }
  return parts.join('; ');
}
