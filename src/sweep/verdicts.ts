/**
 * A verdict per direction of the paper's Table 1 (presets.ts ABLATIONS[row].directions): does
 * the sweep reproduce it, find the opposite, or not resolve it? The rule (VERDICT_RULE) is
 * stated once here and printed with every table. No tfjs here.
 */
import { ABLATIONS, PaperDirection } from '../presets';
import { meanAndStd, ResultRow, RowSummary } from './results';

export type Verdict = 'reproduced' | 'opposite' | 'not resolved';

/** The rule, in the words every table prints beside its verdicts. */
export const VERDICT_RULE =
  'a direction is decided when both rows have at least 2 seeds and their means differ by more than the larger of ' +
  'their two sample standard deviations; decided the paper\'s way: reproduced, the other way: opposite; otherwise ' +
  '(one seed, overlapping spreads, a row not run or without figures, or both rows one run): not resolved. ' +
  'FID lower, IS and probe top-1 higher are better; probe top-1 is the trained E\'s, as in the paper\'s table';

/** Lower is better for these measures. */
const LOWER_IS_BETTER = new Set<PaperDirection['measure']>(['FID']);

/** One paper direction checked against the sweep. */
export interface DirectionCheck {
  row: string;
  measure: PaperDirection['measure'];
  /** The row it is compared with. */
  against: string;
  paper: PaperDirection['is'];
  verdict: Verdict;
  /** Why, in a few words: the two means (and spreads), or what was missing. */
  why: string;
}

/** A figure as the tables show it (probe top-1 in %). */
const show = (measure: PaperDirection['measure'], v: number) => (measure === 'probe_top1' ? 100 * v : v).toFixed(measure === 'IS' ? 2 : 1);
const spread = (measure: PaperDirection['measure'], s: RowSummary) =>
  (s.std[measure] === null ? show(measure, s.mean[measure]!) : `${show(measure, s.mean[measure]!)} ± ${show(measure, s.std[measure]!)}`);

/**
 * The verdict on "`row` is `paper` than `ref` on `measure`" (VERDICT_RULE); `ref` null: that row
 * is not in the table.
 */
export function judgeDirection(row: RowSummary, ref: RowSummary | null, measure: PaperDirection['measure'],
                               paper: PaperDirection['is']): { verdict: Verdict; why: string } {
  const unresolved = (why: string) => ({ verdict: 'not resolved' as const, why });
  if (ref === null) return unresolved('the row it is compared with was not run');
  if (row.mean[measure] === null || ref.mean[measure] === null) return unresolved(`no ${measure} figures`);
  if (row.runs.length > 0 && row.runs.join() === ref.runs.join()) return unresolved(`the same runs as ${ref.row}`);
  const versus = `${spread(measure, row)} vs ${spread(measure, ref)}${measure === 'probe_top1' ? ' %' : ''}`;
  if (row.n[measure] < 2 || ref.n[measure] < 2) return unresolved(`one seed: ${versus}`);
  const gap = row.mean[measure]! - ref.mean[measure]!;
  if (!(Math.abs(gap) > Math.max(row.std[measure]!, ref.std[measure]!))) return unresolved(`spreads overlap: ${versus}`);
  return { verdict: decided(measure, gap, paper), why: versus };
}

/** A decided gap (row − reference) read against the paper's direction. */
function decided(measure: PaperDirection['measure'], gap: number, paper: PaperDirection['is']): Verdict {
  const better = LOWER_IS_BETTER.has(measure) ? gap < 0 : gap > 0;
  return (better ? 'better' : 'worse') === paper ? 'reproduced' : 'opposite';
}

/** The directions presets.ts records for an ablation row (none for a row it does not know). */
const paperDirections = (row: string) => ABLATIONS[row]?.directions ?? [];

/** Every paper direction of the rows in `summary` (rows in table order, each row's directions in their order). */
export function checkDirections(summary: RowSummary[], directions: (row: string) => PaperDirection[] = paperDirections): DirectionCheck[] {
  return summary.flatMap((s) => directions(s.row).map((d) => {
    const against = d.against ?? 'base';
    const ref = summary.find((r) => r.row === against) ?? null;
    return { row: s.row, measure: d.measure, against, paper: d.is, ...judgeDirection(s, ref, d.measure, d.is) };
  }));
}

/** The paired check, in the words printed under the rule. */
export const PAIRED_RULE =
  'the seed sets every row\'s data order, z draws and initial weights the same way, so each direction is also judged on the ' +
  'differences row − reference taken per seed: decided when at least 2 seeds have both and the mean difference ' +
  'exceeds the differences\' sample standard deviation';

/**
 * The same directions judged by PAIRED_RULE on the seed table `rows` (a robustness check beside the
 * unpaired rule, which is the paper's way of reading its table): the rows' shared seed effect cancels.
 */
export function checkDirectionsPaired(rows: ResultRow[], checks: DirectionCheck[]): DirectionCheck[] {
  const line = (row: string, seed: number) => rows.find((r) => r.row === row && r.seed === seed);
  return checks.map((c) => {
    const unresolved = (why: string) => ({ ...c, verdict: 'not resolved' as const, why });
    const mine = rows.filter((r) => r.row === c.row);
    if (mine.length > 0 && mine.every((r) => r.run !== undefined && r.run === line(c.against, r.seed)?.run)) {
      return unresolved(`the same runs as ${c.against}`);
    }
    const diffs = mine.flatMap((r) => {
      const ref = line(c.against, r.seed)?.[c.measure], v = r[c.measure];
      return v === null || ref === null || ref === undefined || !Number.isFinite(v - ref) ? [] : [v - ref];
    });
    const { mean, std, n } = meanAndStd(diffs);
    if (n < 2) return unresolved(`${n} paired seeds`);
    const why = `difference ${show(c.measure, mean!)} ± ${show(c.measure, std!)} over ${n} seeds`;
    if (!(Math.abs(mean!) > std!)) return unresolved(why);
    return { ...c, verdict: decided(c.measure, mean!, c.paper), why };
  });
}

/** How many checks got each verdict. */
export function countVerdicts(checks: DirectionCheck[]): Record<Verdict, number> {
  const count: Record<Verdict, number> = { 'reproduced': 0, 'opposite': 0, 'not resolved': 0 };
  for (const c of checks) count[c.verdict]++;
  return count;
}

/** The count as the sentence at the top of `bigbigan results`. */
export function verdictCountLine(checks: DirectionCheck[]): string {
  const c = countVerdicts(checks);
  return `${c.reproduced} of ${checks.length} of the paper's Table-1 directions reproduced ` +
         `(${c.opposite} opposite, ${c['not resolved']} not resolved)`;
}

const MEASURE_NAMES: Record<PaperDirection['measure'], string> = { FID: 'FID', IS: 'IS', probe_top1: 'probe' };

/** How a verdict stands out in its cell: Markdown bold by default, plain text for an HTML table that escapes it. */
export type Emphasis = (verdict: Verdict) => string;
export const markdownBold: Emphasis = (v) => `**${v}**`;

/** A row's checks in one table cell: "FID worse than base: **reproduced** (… vs …); IS …". */
export function verdictCell(checks: DirectionCheck[], emphasis: Emphasis = markdownBold): string {
  return checks.map((c) => `${MEASURE_NAMES[c.measure]} ${c.paper} than ${c.against}: ${emphasis(c.verdict)} (${c.why})`).join('; ');
}
