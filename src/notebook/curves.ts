/**
 * Curves of several runs on one chart: one line per setting (an ablation
 * row, a learning rate swept in a cell), the mean over that setting's runs
 * (seeds) with a band of ± one standard deviation where there are two or
 * more. The values come from each run's metrics.jsonl: the evaluations
 * (`kind: 'eval'`: fid, is, probe_top1, class_consistency, ...), the encoder
 * diagnostics (`kind: 'diag'`) or the per-step training lines (losses). A sweep folder's
 * curves (sweep/curves.ts rowCurves) go through the same traces: sweepCurvesFigure.
 */
import { Metrics, MetricRow, numberOf, smooth } from './metrics';
import { Figure, PLOTLY_COLORS, Trace } from './plotly';
import { chartSeries, CURVE_CHARTS } from '../sweep/charts';
import { RowCurves } from '../sweep/curves';
import { ChartSeries } from '../util/svg_chart';

/** The runs of one setting, drawn as one curve. */
export interface CurveGroup {
  name: string;
  runs: Metrics[];
}

/** Which lines of metrics.jsonl a curve reads. */
export type MetricsKind = 'eval' | 'diag' | 'train';

/** One setting's curve: at each step, the mean over the runs that have a value there, and their standard deviation. */
export interface GroupCurve {
  x: number[];
  mean: number[];
  /** Sample standard deviation (null where fewer than two runs have a value). */
  std: Array<number | null>;
  /** Runs with a value at each step. */
  n: number[];
}

/** The mean curve of `key` over `runs` (each run smoothed first when `smoothing` is given: an EMA weight, e.g. 0.1 for losses). */
export function groupCurve(runs: Metrics[], key: string, kind: MetricsKind = 'eval', smoothing?: number): GroupCurve {
  const byStep = new Map<number, number[]>();
  for (const m of runs) {
    const rows: MetricRow[] = m[kind];
    const values = rows.map((r) => numberOf(r, key));
    const ys = smoothing ? smooth(values, smoothing) : values;
    rows.forEach((r, i) => {
      const y = ys[i];
      if (y !== null) byStep.set(r.step, [...(byStep.get(r.step) ?? []), y]);
    });
  }
  const x = [...byStep.keys()].sort((a, b) => a - b);
  const stats = x.map((s) => {
    const v = byStep.get(s)!;
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const std = v.length < 2 ? null : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
    return { mean, std, n: v.length };
  });
  return { x, mean: stats.map((s) => s.mean), std: stats.map((s) => s.std), n: stats.map((s) => s.n) };
}

/** Options of overlayFigure. */
export interface OverlayOptions {
  kind?: MetricsKind;
  /** Multiply values (100: fractions as %). */
  scale?: number;
  /** EMA weight applied per run before averaging (loss curves). */
  smooth?: number;
  title?: string;
  yTitle?: string;
  logY?: boolean;
}

const rgba = (hex: string, alpha: number) =>
  `rgba(${parseInt(hex.slice(1, 3), 16)},${parseInt(hex.slice(3, 5), 16)},${parseInt(hex.slice(5, 7), 16)},${alpha})`;

/**
 * The plotly traces of chart lines (the form sweep/charts.ts gives `bigbigan results`' SVGs): per line, a shaded band
 * between its points' lo and hi where it has one (two edge traces, the second filled to the first), then the line in its
 * colour, width and dash, with markers when `markers` (sparse evaluations).
 */
export function seriesTraces(series: ChartSeries[], markers = true): Trace[] {
  const data: Trace[] = [];
  for (const s of series) {
    const x = s.points.map((p) => p.x);
    if (s.points.some((p) => p.lo !== undefined && p.hi !== undefined)) {
      const edge = (side: 'lo' | 'hi') => s.points.map((p) => p[side] ?? null);
      const common = { type: 'scatter', mode: 'lines', x, line: { width: 0, color: s.color }, showlegend: false, hoverinfo: 'skip',
                       legendgroup: s.name, connectgaps: false };
      data.push({ ...common, y: edge('hi') }, { ...common, y: edge('lo'), fill: 'tonexty', fillcolor: rgba(s.color, 0.18) });
    }
    data.push({
      type: 'scatter', mode: markers ? 'lines+markers' : 'lines', name: s.name, x, y: s.points.map((p) => p.y),
      line: { color: s.color, width: s.width ?? 2, dash: s.dashed ? 'dash' : 'solid' }, legendgroup: s.name,
    });
  }
  return data;
}

/** A chart's layout: step on x, `yTitle` on y, the legend below. */
function curvesLayout(title: string, yTitle: string, logY = false, xTitle = 'step'): Record<string, unknown> {
  return {
    title: title ? { text: title } : undefined, xaxis: { title: { text: xTitle } },
    yaxis: { title: { text: yTitle }, type: logY ? 'log' : 'linear' },
    margin: { t: title ? 40 : 10, r: 10, b: 45, l: 55 }, legend: { orientation: 'h', y: -0.2 },
  };
}

/**
 * `key` against step for every group on one chart: a line (with markers for evaluations) per group, named
 * `<group> (n runs)` when it averages several, and a shaded ± 1 s.d. band where two or more runs have a value.
 * Groups without any value of `key` are left out; the title says so.
 */
export function overlayFigure(groups: CurveGroup[], key: string, opts: OverlayOptions = {}): Figure {
  const kind = opts.kind ?? 'eval';
  const scale = opts.scale ?? 1;
  const series: ChartSeries[] = [];
  const missing: string[] = [];
  groups.forEach((g, i) => {
    const c = groupCurve(g.runs, key, kind, opts.smooth);
    if (c.x.length === 0) { missing.push(g.name); return; }
    const runs = Math.max(...c.n);
    series.push({
      name: runs > 1 ? `${g.name} (${runs} runs)` : g.name, color: PLOTLY_COLORS[i % PLOTLY_COLORS.length],
      points: c.x.map((x, j) => {
        const std = c.std[j];
        return { x, y: scale * c.mean[j], ...(std === null ? {} : { lo: scale * (c.mean[j] - std), hi: scale * (c.mean[j] + std) }) };
      }),
    });
  });
  const title = [opts.title, missing.length > 0 ? `(no ${key}: ${missing.join(', ')})` : ''].filter(Boolean).join(' ');
  return { data: seriesTraces(series, kind !== 'train'), layout: curvesLayout(title, opts.yTitle ?? key, opts.logY) };
}

/**
 * A sweep's curve chart (sweep/charts.ts CURVE_CHARTS: 'fid' or 'probe_top1') from rowCurves, as plotly: the lines
 * `bigbigan results` draws in its SVG (one per distinct set of runs, mean over seeds ± one std, Base black and thick,
 * on the probe chart Base's random-init E and raw pixels dashed). Empty `data` when no row has the figure.
 */
export function sweepCurvesFigure(curves: RowCurves[], figure: string): Figure {
  const chart = CURVE_CHARTS.find((c) => c.figure === figure);
  if (chart === undefined) {
    throw new Error(`Expected a sweep chart figure (${CURVE_CHARTS.map((c) => c.figure).join(', ')}), but got '${figure}'`);
  }
  const seeds = Math.max(0, ...curves.map((c) => c.runs.length));
  const note = `mean over up to ${seeds} seed${seeds === 1 ? '' : 's'} per row, band ± one sample std`;
  const layout = curvesLayout(`${chart.title}<br><sub>${note}</sub>`, chart.yLabel, false, 'E/G step');
  return { data: seriesTraces(chartSeries(curves, chart)), layout };
}
