/**
 * The curves of a sweep: every run logs quick evaluations (`kind: 'eval'`: FID, IS, probe
 * top-1, 1-NN, class consistency, ...) every cfg.evalEvery steps and encoder diagnostics
 * (`kind: 'diag'`) every cfg.diagEvery steps in its metrics.jsonl; when the sweep prunes a
 * finished run it keeps those lines as <run>/curves.jsonl (sweep/plan.ts). Here they are read
 * back and summarised per ablation row: at each step, the mean and sample std over the row's
 * seeds. `rowCurves(resultsDir)` is what notebooks plot. No tfjs here.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readMetricsLines } from '../run/folder';
import { meanAndStd, readResultsTable } from './results';

/** The file a pruned sweep run keeps its evaluation and diagnosis lines in. */
export const CURVES_FILE = 'curves.jsonl';
/** The kinds of metrics lines that make the curves. */
export const CURVE_KINDS = ['eval', 'diag'] as const;
export type CurveKind = (typeof CURVE_KINDS)[number];

/** One step of a row's curve: over the seeds that logged the figure at that step. */
export interface CurvePoint {
  step: number;
  mean: number;
  /** Sample standard deviation over the seeds; null for one seed. */
  std: number | null;
  seeds: number;
}

/** A row's curves, figure by figure (e.g. eval.fid, eval.probe_top1, diag.e_snr), each in step order. */
export interface RowCurves {
  row: string;
  /** The run folders averaged (finished runs only; diverged ones are left out, as in the table). */
  runs: string[];
  eval: Record<string, CurvePoint[]>;
  diag: Record<string, CurvePoint[]>;
}

/** One logged line of a curve: its kind, step and numeric figures. */
export interface CurveLine {
  kind: CurveKind;
  step: number;
  figures: Record<string, number>;
}

const isCurveKind = (k: string | undefined): k is CurveKind => (CURVE_KINDS as readonly string[]).includes(k ?? '');

/** The text of the evaluation and diagnosis lines of a metrics.jsonl, one per line (a torn last line left out). */
export function curveLinesText(metricsFile: string): string {
  return readMetricsLines(metricsFile).lines.filter((l) => isCurveKind(l.kind)).map((l) => `${l.text}\n`).join('');
}

/**
 * The curve lines of a run folder: its curves.jsonl (a pruned sweep run), else its metrics.jsonl
 * (a run not pruned); [] when it has neither. At a step logged twice (a resumed run) the last
 * line counts. Non-numeric figures (eval_seconds is kept; `null` for a figure not measured) are left out.
 */
export function readRunCurves(runDir: string): CurveLine[] {
  const kept = path.join(runDir, CURVES_FILE);
  const file = fs.existsSync(kept) ? kept : path.join(runDir, 'metrics.jsonl');
  const byKey = new Map<string, CurveLine>();
  for (const l of readMetricsLines(file).lines) {
    if (!isCurveKind(l.kind)) continue;
    const figures: Record<string, number> = {};
    for (const [k, v] of Object.entries(JSON.parse(l.text) as Record<string, unknown>)) {
      if (k !== 'step' && typeof v === 'number' && Number.isFinite(v)) figures[k] = v;
    }
    byKey.set(`${l.kind}/${l.step}`, { kind: l.kind, step: l.step, figures });
  }
  return [...byKey.values()];
}

/** Mean and spread over runs, step by step, of every figure of one kind. */
export function averageCurves(runs: CurveLine[][], kind: CurveKind): Record<string, CurvePoint[]> {
  const values = new Map<string, Map<number, number[]>>();  // figure -> step -> one value per run
  for (const lines of runs) {
    for (const line of lines.filter((l) => l.kind === kind)) {
      for (const [figure, v] of Object.entries(line.figures)) {
        const steps = values.get(figure) ?? new Map<number, number[]>();
        steps.set(line.step, [...(steps.get(line.step) ?? []), v]);
        values.set(figure, steps);
      }
    }
  }
  const out: Record<string, CurvePoint[]> = {};
  for (const [figure, steps] of values) {
    out[figure] = [...steps].sort((a, b) => a[0] - b[0]).map(([step, vs]) => {
      const { mean, std, n } = meanAndStd(vs);
      return { step, mean: mean!, std, seeds: n };
    });
  }
  return out;
}

/**
 * The curves of every row of the sweep in `resultsDir` (its results.csv names each row's run
 * folder per seed), in table order: per figure and step, the mean and sample std over the
 * row's seeds. Rows whose runs logged no curve (sweeps from before curves, or evalEvery=0)
 * have empty `eval` (and `diag`) records.
 */
export function rowCurves(resultsDir: string): RowCurves[] {
  const file = path.join(resultsDir, 'results.csv');
  const table = readResultsTable(file);
  if (table === null) throw new Error(`Expected a results table at ${file}, but it does not exist`);
  const runsOf = new Map<string, string[]>();
  for (const r of table) {
    const runs = runsOf.get(r.row) ?? [];
    if (r.run !== undefined && r.status !== 'diverged') runs.push(r.run);
    runsOf.set(r.row, runs);
  }
  const cache = new Map<string, CurveLine[]>();  // rows with identical configs share runs
  const linesOf = (run: string) => cache.get(run) ?? cache.set(run, readRunCurves(path.join(resultsDir, run))).get(run)!;
  return [...runsOf].map(([row, runs]) => {
    const lines = runs.map(linesOf);
    return { row, runs, eval: averageCurves(lines, 'eval'), diag: averageCurves(lines, 'diag') };
  });
}

/** Whether any row has an evaluation curve. */
export function hasEvalCurves(curves: RowCurves[]): boolean {
  return curves.some((c) => Object.keys(c.eval).length > 0);
}
