/**
 * The paper's Table-1 ablations in a notebook: each row's config delta as a
 * diff from Base, a results table (the one `bigbigan sweep` writes, e.g. the
 * committed data/results/<dataset>-ablations/results.csv, or rows gathered
 * from runs trained in the notebook), its summary over seeds, and how each
 * row moved against Base, in words, beside the paper's direction
 * (presets.ts ABLATIONS[row].paper), and the summary's bars (the representation
 * beside its random-init E and raw-pixel baselines).
 */
import { Config } from '../config';
import { lastEval, numberOf, Metrics, wallSeconds } from './metrics';
import { BarGroup, barFigure, Figure } from './plotly';
import { ResultRow, RowSummary, SummaryMetric } from '../sweep/results';

export * from '../sweep/results';
export * from '../sweep/report';
export * from '../sweep/verdicts';
export * from '../sweep/curves';
export { NO_CURVES_REASON } from '../sweep/charts';

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
    probe_top1_pixels: get('probe_top1_pixels'), knn1_pixels: get('knn1_pixels'),
  };
}

/** What one section of the ablation notebook produced: its result rows, the metrics of its runs, and where they came from. */
export interface SectionOutcome {
  rows: ResultRow[];
  /** The metrics.jsonl of each run (one per seed), for curves. */
  runs: Metrics[];
  /** 'trained here' or the results table read. */
  source: string;
}

/**
 * The results a notebook gathered, one entry per section (a Table-1 row): running a section again replaces its
 * entry, so the summary never counts a rerun twice nor averages two settings as if they were seeds.
 */
export class SectionResults {
  private readonly sections = new Map<string, SectionOutcome>();

  set(row: string, outcome: SectionOutcome): void {
    this.sections.set(row, outcome);
  }

  /** Forgets a section (it ran and now shows nothing, e.g. a row left out of ROWS). */
  delete(row: string): void {
    this.sections.delete(row);
  }

  /** Every section's rows, in the order the sections first ran. */
  rows(): ResultRow[] {
    return [...this.sections.values()].flatMap((o) => o.rows);
  }

  /** The sections as curve groups (one per row with runs): for curves.ts overlayFigure. */
  curveGroups(): Array<{ name: string; runs: Metrics[] }> {
    return [...this.sections].filter(([, o]) => o.runs.length > 0).map(([name, o]) => ({ name, runs: o.runs }));
  }

  /** Where each section's figures came from, e.g. { base: 'trained here' }. */
  sources(): Record<string, string> {
    return Object.fromEntries([...this.sections].map(([row, o]) => [row, o.source]));
  }
}

/** A summary figure as one group of bars over the rows: the mean over seeds (× `scale`), ± the sample s.d. where there is one. */
export function summaryBars(summary: RowSummary[], m: SummaryMetric, name: string, scale = 1): BarGroup {
  const scaled = (v: number | null) => (v === null ? null : v * scale);
  return {
    name, y: summary.map((s) => scaled(s.mean[m])),
    error: summary.some((s) => s.std[m] !== null) ? summary.map((s) => scaled(s.std[m])) : undefined,
  };
}

/**
 * The representation chart of the summary: probe top-1 and 1-NN of the trained E beside its random-init E, as bars per
 * row, and the same probe and 1-NN on raw pixels as a tick over each row (the level E's features have to beat).
 */
export function representationFigure(summary: RowSummary[]): Figure {
  const pct = (m: SummaryMetric, name: string) => summaryBars(summary, m, name, 100);
  const pixels = (m: SummaryMetric) => summary.map((s) => (s.mean[m] === null ? null : 100 * s.mean[m]!));
  return barFigure(summary.map((s) => s.row), [
    pct('probe_top1', 'probe, trained E'), pct('probe_top1_random_init', 'probe, random-init E'),
    pct('knn1', '1-NN, trained E'), pct('knn1_random_init', '1-NN, random-init E'),
  ], {
    title: "representation: accuracy on E's avepool features, trained beside random init and raw pixels",
    yTitle: '% test accuracy',
    references: [
      { name: 'probe, raw pixels', y: pixels('probe_top1_pixels'), color: '#222222' },
      { name: '1-NN, raw pixels', y: pixels('knn1_pixels'), color: '#999999' },
    ],
  });
}
