/**
 * The paper's Table-1 ablations in a notebook: each row's config delta as a
 * diff from Base, a results table (the one `bigbigan sweep` will write to
 * data/results/<dataset>-ablations/results.csv, or rows gathered from runs), its
 * summary over seeds, and how each row moved against Base, in words, beside
 * the paper's direction (presets.ts ABLATIONS[row].paper).
 */
import { Config } from '../config';
import { lastEval, numberOf, Metrics, wallSeconds } from './metrics';
import { RESULT_METRICS, ResultMetric, ResultRow } from '../results';

export * from '../results';

/** One changed key between two configs. */
export interface ConfigChange {
  key: string;
  base: unknown;
  value: unknown;
}

/** The keys whose values differ between `base` and `other` (arrays compared by value), in Config order. */
export function configDiff(base: Config, other: Config): ConfigChange[] {
  return (Object.keys(base) as Array<keyof Config>)
    .filter((k) => JSON.stringify(base[k]) !== JSON.stringify(other[k]))
    .map((k) => ({ key: k, base: base[k], value: other[k] }));
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A diff as text, `- key: base` / `+ key: value` lines (empty diff: a note). */
export function configDiffText(diff: ConfigChange[]): string {
  if (diff.length === 0) return '  (no change from Base)';
  return diff.flatMap((d) => [`- ${d.key}: ${JSON.stringify(d.base)}`, `+ ${d.key}: ${JSON.stringify(d.value)}`]).join('\n');
}

/** A diff as coloured HTML <pre> (red: Base, green: the row). */
export function configDiffHtml(diff: ConfigChange[]): string {
  const lines = configDiffText(diff).split('\n').map((l) => {
    const colour = l.startsWith('-') ? '#b31d28' : l.startsWith('+') ? '#22863a' : '#666';
    return `<span style="color:${colour}">${escapeHtml(l)}</span>`;
  });
  return `<pre style="background:#f6f8fa;padding:6px 10px;margin:4px 0">${lines.join('\n')}</pre>`;
}

/** A ResultRow from a finished run's metrics: its last evaluation line (probe_top5 is not logged per step: null). */
export function resultFromMetrics(row: string, seed: number, m: Metrics): ResultRow {
  const e = lastEval(m);
  const step = m.train.length > 0 ? m.train[m.train.length - 1].step : 0;
  const get = (k: string) => (e === null ? null : numberOf(e, k));
  return {
    row, seed, steps: step, IS: get('is'), FID: get('fid'), probe_top1: get('probe_top1'), probe_top5: null,
    knn1: get('knn1'), class_consistency: get('class_consistency'), wall_s: wallSeconds(m),
    probe_top1_random_init: get('probe_top1_random_init'), knn1_random_init: get('knn1_random_init'),
  };
}

/** A row's figures over its seeds: mean, sample standard deviation (null for one seed) and count. */
export interface RowSummary {
  row: string;
  seeds: number;
  steps: number;
  mean: Record<ResultMetric, number | null>;
  std: Record<ResultMetric, number | null>;
}

/** Results grouped by row (in first-seen order), each metric averaged over the seeds that have it. */
export function summarizeResults(rows: ResultRow[]): RowSummary[] {
  const groups = new Map<string, ResultRow[]>();
  for (const r of rows) groups.set(r.row, [...(groups.get(r.row) ?? []), r]);
  return [...groups].map(([row, list]) => {
    const mean = {} as RowSummary['mean'], std = {} as RowSummary['std'];
    for (const m of RESULT_METRICS) {
      const v = list.map((r) => r[m]).filter((x): x is number => x !== null && Number.isFinite(x));
      const mu = v.length > 0 ? v.reduce((a, b) => a + b, 0) / v.length : null;
      mean[m] = mu;
      std[m] = mu !== null && v.length > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / (v.length - 1)) : null;
    }
    return { row, seeds: new Set(list.map((r) => r.seed)).size, steps: Math.max(...list.map((r) => r.steps)), mean, std };
  });
}

/** "mean ± std" (or the mean alone for one seed); `scale` 100 shows fractions as percentages. */
export function meanStd(s: RowSummary, m: ResultMetric, digits = 2, scale = 1): string {
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
    gen.push(Math.abs(rel) <= tolerance.relative ? 'FID similar' : `FID ${rel > 0 ? 'worse' : 'better'} (${fidB.toFixed(1)} → ${fid.toFixed(1)})`);
  }
  if (is !== null && isB !== null) {
    const rel = (is - isB) / Math.max(1e-9, Math.abs(isB));
    gen.push(Math.abs(rel) <= tolerance.relative ? 'IS similar' : `IS ${rel > 0 ? 'better' : 'worse'} (${isB.toFixed(2)} → ${is.toFixed(2)})`);
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

/**
 * A results table as a Markdown summary, one line per row: mean ± std over
 * seeds of each figure, the direction against Base, and the paper's (for the
 * README and `bigbigan results`).
 */
export function resultsMarkdown(rows: ResultRow[], paper: (row: string) => string): string {
  const summary = summarizeResults(rows);
  const base = summary.find((s) => s.row === 'base');
  const head = ['row', 'seeds', 'FID ↓', 'IS ↑', 'probe top-1 % (random-init E)', '1-NN % (random-init E)', 'class consistency %', 'wall s',
                'ours vs Base', 'paper (Table 1)'];
  // The random-init E's figure beside the trained one (seed 0 only has it): what training added.
  const withInit = (x: RowSummary, m: ResultMetric, init: ResultMetric) => {
    const v = meanStd(x, m, 1, 100);
    return v && x.mean[init] !== null ? `${v} (${(100 * x.mean[init]!).toFixed(1)})` : v;
  };
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const s of summary) {
    lines.push(`| ${[s.row, String(s.seeds), meanStd(s, 'FID', 1), meanStd(s, 'IS', 2), withInit(s, 'probe_top1', 'probe_top1_random_init'), withInit(s, 'knn1', 'knn1_random_init'),
                     meanStd(s, 'class_consistency', 1, 100), meanStd(s, 'wall_s', 0), base ? directionVsBase(s, base) : '', paper(s.row)].join(' | ')} |`);
  }
  return lines.join('\n');
}
