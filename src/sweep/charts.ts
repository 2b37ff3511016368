/**
 * The charts `bigbigan results` writes beside a sweep's table: FID against step and probe
 * top-1 against step, one line per ablation row (the mean over its seeds, a band of ± one
 * sample std), Base highlighted, as self-contained SVG files in the sweep folder. The data
 * come from sweep/curves.ts rowCurves, which notebooks plot too. No tfjs here.
 */
import * as path from 'path';
import { CHART_COLORS, ChartSeries, lineChartSvg } from '../util/svg_chart';
import { writeFileAtomic } from '../util/fs_safe';
import { CurvePoint, RowCurves } from './curves';

/** One chart: the evaluation figure it plots and how. */
interface CurveChart {
  file: string;
  figure: string;
  title: string;
  yLabel: string;
  /** 100: fractions shown as percentages. */
  scale: number;
  /** Base's figures drawn as dashed references (its own quick evaluation's baselines). */
  references: Array<{ figure: string; name: string; color: string }>;
}

/** Why a sweep folder has no chart, in the words `bigbigan results` and notebook 02 print. */
export const NO_CURVES_REASON = 'its runs logged no evaluation during training, as sweeps did before curves';

export const CURVE_CHARTS: CurveChart[] = [
  { file: 'curves-fid.svg', figure: 'fid', title: 'FID of G_ema against step (lower is better)', yLabel: 'FID', scale: 1, references: [] },
  {
    file: 'curves-probe.svg', figure: 'probe_top1', title: "Linear probe top-1 on E's avepool features against step",
    yLabel: 'probe top-1 (%)', scale: 100, references: [
      { figure: 'probe_top1_random_init', name: 'base: random-init E', color: '#555555' },
      { figure: 'probe_top1_pixels', name: 'raw pixels', color: '#aaaaaa' },
    ],
  },
];

/** A curve as chart points, with a band ± one std where there are two or more seeds (unless `band` is false). */
const chartPoints = (curve: CurvePoint[], scale: number, band = true) => curve.map((p) => ({
  x: p.step, y: p.mean * scale,
  ...(p.std === null || !band ? {} : { lo: (p.mean - p.std) * scale, hi: (p.mean + p.std) * scale }),
}));

/**
 * The series of one chart: a line per distinct set of runs (rows that share their runs, e.g.
 * resnet-x1 = base, are one line named "base = resnet-x1"), Base black and thick, then Base's
 * references dashed. A row keeps its colour from chart to chart.
 */
export function chartSeries(curves: RowCurves[], chart: CurveChart): ChartSeries[] {
  const lines: Array<{ names: string[]; curve: CurvePoint[] }> = [];
  for (const c of curves) {
    const curve = c.eval[chart.figure];
    if (curve === undefined || curve.length === 0) continue;
    const same = lines.find((l) => curves.find((o) => o.row === l.names[0])!.runs.join() === c.runs.join());
    if (same) same.names.push(c.row); else lines.push({ names: [c.row], curve });
  }
  const series = lines.map((l): ChartSeries => {
    const isBase = l.names.includes('base');
    // Coloured by the row's place in the whole table, so a row has one colour in every chart (no-e has no probe line).
    const place = curves.findIndex((c) => c.row === l.names[0]);
    const color = isBase ? '#000000' : CHART_COLORS[place % CHART_COLORS.length];
    return { name: l.names.join(' = '), points: chartPoints(l.curve, chart.scale), color, width: isBase ? 3.5 : 1.5 };
  });
  const base = curves.find((c) => c.row === 'base');
  for (const r of chart.references) {
    const curve = base?.eval[r.figure];
    // A baseline's line without a band: its spread over seeds is the spread of untrained networks, not of training.
    if (curve === undefined || curve.length === 0) continue;
    series.push({ name: r.name, points: chartPoints(curve, chart.scale, false), color: r.color, dashed: true });
  }
  return series;
}

/** Writes the charts that have data into `dir`; returns the files written (none when no run logged curves). */
export function writeCurveCharts(dir: string, curves: RowCurves[]): string[] {
  const written: string[] = [];
  for (const chart of CURVE_CHARTS) {
    const series = chartSeries(curves, chart);
    if (series.length === 0) continue;
    const seeds = Math.max(...curves.map((c) => c.runs.length));
    const file = path.join(dir, chart.file);
    writeFileAtomic(file, lineChartSvg({
      title: chart.title, xLabel: 'E/G step', yLabel: chart.yLabel, series,
      note: `${path.basename(path.resolve(dir))}: quick evaluations during training, mean over up to ${seeds} seeds per row, ` +
            'band ± one sample std',
    }));
    written.push(file);
  }
  return written;
}

