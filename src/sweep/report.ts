/**
 * A sweep's results table as `bigbigan results` prints it (and the README and notebook 02
 * show it): one line per row, mean ± std over seeds, each trained figure beside its fair
 * baselines (the random-init E, raw pixels) and what training added (trained − random-init),
 * and the verdict on each of the paper's Table-1 directions (sweep/verdicts.ts). No tfjs here.
 */
import { meanStd, ResultRow, RowSummary, SummaryMetric, summarizeResults } from './results';
import { checkDirections, Emphasis, markdownBold, VERDICT_RULE, verdictCell, verdictCountLine } from './verdicts';

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

/**
 * A results table as Markdown, one line per row: FID, IS, probe top-1 and 1-NN with their
 * random-init E and pixel baselines and the trained − random-init gain (points; over the seeds
 * that have a baseline), class consistency, wall time, the verdict on each paper direction
 * (VERDICT_RULE) and the paper's finding in words (`paper`).
 */
export function resultsMarkdown(rows: ResultRow[], paper: (row: string) => string): string {
  const summary = summarizeResults(rows);
  const verdicts = rowVerdicts(summary, paper);
  const head = ['row', 'seeds', 'FID ↓', 'IS ↑',
                'probe top-1 %', 'random-init E', 'pixels', 'trained − random-init (pts)',
                '1-NN %', 'random-init E', 'pixels', 'trained − random-init (pts)',
                'class consistency %', 'wall s', 'verdict against the paper', 'paper (Table 1)'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const s of summary) {
    const cells = [
      s.row, String(s.seeds), meanStd(s, 'FID', 1), meanStd(s, 'IS', 2),
      pctCell(s, 'probe_top1'), pctCell(s, 'probe_top1_random_init'), pctCell(s, 'probe_top1_pixels'), gainCell(s, 'probe_top1_gain'),
      pctCell(s, 'knn1'), pctCell(s, 'knn1_random_init'), pctCell(s, 'knn1_pixels'), gainCell(s, 'knn1_gain'),
      pctCell(s, 'class_consistency'), meanStd(s, 'wall_s', 0),
      verdicts[s.row], paper(s.row),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The two lines above the table: how many of the paper's directions the sweep reproduces, and the rule that decided it. */
export function verdictHeader(rows: ResultRow[]): string[] {
  return [verdictCountLine(checkDirections(summarizeResults(rows))), `Rule: ${VERDICT_RULE}.`];
}
