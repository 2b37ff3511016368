/**
 * A sweep's results table as `bigbigan results` prints it (and the README and notebook 02
 * show it): one line per row, mean ± std over seeds, each trained figure beside its fair
 * baselines (the random-init E, raw pixels) and what training added (trained − random-init),
 * and the verdict on each of the paper's Table-1 directions (sweep/verdicts.ts). No tfjs here.
 */
import { meanStd, ResultRow, RowSummary, SummaryMetric, summarizeResults } from './results';
import {
  checkDirections, checkDirectionsPaired, Emphasis, markdownBold, PAIRED_RULE, VERDICT_RULE, verdictCell, verdictCountLine,
} from './verdicts';

/** A figure in % over its seeds, saying how many seeds have it when not all do (e.g. baselines measured on seed 0 only). */
function pctCell(s: RowSummary, m: SummaryMetric): string {
  const v = meanStd(s, m, 1, 100);
  return v !== '' && s.n[m] < s.seeds ? `${v} [${s.n[m]} of ${s.seeds} seeds]` : v;
}

/** A gain in points with its sign ("+3.1 ± 1.2"), for the trained − random-init columns. */
export function gainCell(s: RowSummary, m: 'probe_top1_gain' | 'knn1_gain'): string {
  const v = pctCell(s, m);
  return v === '' || v.startsWith('-') ? v : `+${v}`;
}

/** The verdict cell of a row: its checks, or what it is when the paper gives it no direction. */
function verdictOrRole(s: RowSummary, cell: string, paper: string): string {
  if (cell !== '') return cell;
  return s.row === 'base' ? 'reference row' : `no direction to test (paper: ${paper || 'no row'})`;
}

/**
 * Each row's verdict cell (VERDICT_RULE): its checks against the paper's directions, "reference row" for Base, or
 * that the paper gives it no direction to test (`paper`: the paper's finding in words); `emphasis` marks each verdict.
 */
export function rowVerdicts(summary: RowSummary[], paper: (row: string) => string,
                            emphasis: Emphasis = markdownBold): Record<string, string> {
  const checks = checkDirections(summary);
  const cellOf = (s: RowSummary) => verdictCell(checks.filter((c) => c.row === s.row), emphasis);
  return Object.fromEntries(summary.map((s) => [s.row, verdictOrRole(s, cellOf(s), paper(s.row))]));
}

/** A figure column of the summary table: its head in Markdown (`bigbigan results`), its key in a notebook's table (unique), its cell. */
interface FigureColumn {
  head: string;
  key: string;
  cell: (s: RowSummary) => string;
}

/** A representation figure's columns: the trained E, its fair baselines (random-init E, raw pixels), and the gain. */
function representationColumns(name: string, trained: 'probe_top1' | 'knn1'): FigureColumn[] {
  return [
    { head: `${name} %`, key: `${name} %`, cell: (s) => pctCell(s, trained) },
    { head: 'random-init E', key: `${name} random-init E %`, cell: (s) => pctCell(s, `${trained}_random_init`) },
    { head: 'pixels', key: `${name} pixels %`, cell: (s) => pctCell(s, `${trained}_pixels`) },
    { head: 'trained − random-init (pts)', key: `${name} trained − random-init (pts)`, cell: (s) => gainCell(s, `${trained}_gain`) },
  ];
}

/** The figures of a summary line, in table order (shared by the Markdown of `bigbigan results` and notebook 02's table). */
const FIGURE_COLUMNS: FigureColumn[] = [
  { head: 'FID ↓', key: 'FID ↓', cell: (s) => meanStd(s, 'FID', 1) },
  { head: 'IS ↑', key: 'IS ↑', cell: (s) => meanStd(s, 'IS', 2) },
  ...representationColumns('probe top-1', 'probe_top1'),
  ...representationColumns('1-NN', 'knn1'),
  { head: 'class consistency %', key: 'class consistency %', cell: (s) => pctCell(s, 'class_consistency') },
  { head: 'wall s', key: 'wall s', cell: (s) => meanStd(s, 'wall_s', 0) },
];

/**
 * A results table as Markdown, one line per row: FID, IS, probe top-1 and 1-NN with their
 * random-init E and pixel baselines and the trained − random-init gain (points; over the seeds
 * that have a baseline), class consistency, wall time, the verdict on each paper direction
 * (VERDICT_RULE) and the paper's finding in words (`paper`).
 */
export function resultsMarkdown(rows: ResultRow[], paper: (row: string) => string): string {
  const summary = summarizeResults(rows);
  const verdicts = rowVerdicts(summary, paper);
  const head = ['row', 'seeds', ...FIGURE_COLUMNS.map((c) => c.head), 'verdict against the paper', 'paper (Table 1)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const s of summary) {
    const cells = [s.row, String(s.seeds), ...FIGURE_COLUMNS.map((c) => c.cell(s)), verdicts[s.row], paper(s.row)];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Options of summaryRecords. */
export interface SummaryRecordOptions {
  /** The paper's finding for a row, in words. */
  paper: (row: string) => string;
  /** Where a row's figures came from (a `source` column after `row`); none: no such column. */
  source?: (row: string) => string;
  /** How a verdict stands out; default plain text (an HTML table shows its cells as they are). */
  emphasis?: Emphasis;
}

/**
 * The summary as one record per row for a notebook table (keys unique, in column order): row, source, seeds, steps,
 * the figures of resultsMarkdown (each representation figure beside its random-init E and pixel baselines), the
 * verdict and the paper's finding.
 */
export function summaryRecords(summary: RowSummary[], opts: SummaryRecordOptions): Array<Record<string, string | number>> {
  const verdicts = rowVerdicts(summary, opts.paper, opts.emphasis ?? ((v) => v));
  return summary.map((s) => ({
    row: s.row, ...(opts.source ? { source: opts.source(s.row) } : {}), seeds: s.seeds, steps: s.steps,
    ...Object.fromEntries(FIGURE_COLUMNS.map((c) => [c.key, c.cell(s)])),
    verdict: verdicts[s.row], paper: opts.paper(s.row),
  }));
}

/**
 * The lines above the table: how many of the paper's directions the sweep reproduces, the rule that
 * decided it, and the same count paired by seed (checkDirectionsPaired) with its rule.
 */
export function verdictHeader(rows: ResultRow[]): string[] {
  const checks = checkDirections(summarizeResults(rows));
  return [verdictCountLine(checks), `Rule: ${VERDICT_RULE}.`,
          `Paired by seed: ${verdictCountLine(checkDirectionsPaired(rows, checks))}. Its rule: ${PAIRED_RULE}.`];
}

/**
 * For a sweep that spans sittings: which of its definition's row × seed runs have no line in the
 * table yet, as one line ("Unfinished: …"), or null when every one has. The count above it covers
 * the finished rows only, so a reader must see that it is partial.
 */
export function unfinishedLine(def: { rows: string[]; seeds: number[] }, rows: ResultRow[]): string | null {
  const has = new Set(rows.map((r) => `${r.row}\t${r.seed}`));
  const missing = def.rows.map((row) => ({ row, done: def.seeds.filter((seed) => has.has(`${row}\t${seed}`)).length }))
    .filter((m) => m.done < def.seeds.length);
  if (missing.length === 0) return null;
  const cells = def.rows.length * def.seeds.length;
  const left = missing.reduce((n, m) => n + def.seeds.length - m.done, 0);
  return `Unfinished: ${left} of the sweep's ${cells} row × seed runs have no result yet (` +
         missing.map((m) => `${m.row} ${m.done} of ${def.seeds.length} seeds`).join(', ') +
         '); the count covers the finished runs only. Re-running `bigbigan sweep` on this folder resumes it.';
}
