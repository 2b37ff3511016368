/**
 * Curves of several runs on one chart: one line per setting (an ablation
 * row, a learning rate swept in a cell), the mean over that setting's runs
 * (seeds) with a band of ± one standard deviation where there are two or
 * more. The values come from each run's metrics.jsonl: the evaluations
 * (`kind: 'eval'`: fid, is, probe_top1, class_consistency, ...), the encoder
 * diagnostics (`kind: 'diag'`) or the per-step training lines (losses).
 */
import { Metrics, MetricRow, numberOf, smooth } from './metrics';
import { Figure, PLOTLY_COLORS, Trace } from './plotly';

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
 * `key` against step for every group on one chart: a line (with markers for evaluations) per group, named
 * `<group> (n runs)` when it averages several, and a shaded ± 1 s.d. band where two or more runs have a value.
 * Groups without any value of `key` are left out; the title says so.
 */
export function overlayFigure(groups: CurveGroup[], key: string, opts: OverlayOptions = {}): Figure {
  const kind = opts.kind ?? 'eval';
  const scale = opts.scale ?? 1;
  const data: Trace[] = [];
  const missing: string[] = [];
  groups.forEach((g, i) => {
    const c = groupCurve(g.runs, key, kind, opts.smooth);
    if (c.x.length === 0) { missing.push(g.name); return; }
    const color = PLOTLY_COLORS[i % PLOTLY_COLORS.length];
    const banded = c.x.map((_, j) => c.std[j] !== null);
    if (banded.some(Boolean)) {
      const edge = (sign: number) => c.x.map((_, j) => (banded[j] ? scale * (c.mean[j] + sign * c.std[j]!) : null));
      const common = { type: 'scatter', mode: 'lines', x: c.x, line: { width: 0, color }, showlegend: false, hoverinfo: 'skip',
                       legendgroup: g.name, connectgaps: false };
      data.push({ ...common, y: edge(1) }, { ...common, y: edge(-1), fill: 'tonexty', fillcolor: rgba(color, 0.18) });
    }
    const runs = Math.max(...c.n);
    data.push({
      type: 'scatter', mode: kind === 'train' ? 'lines' : 'lines+markers', name: runs > 1 ? `${g.name} (${runs} runs)` : g.name,
      x: c.x, y: c.mean.map((v) => scale * v), line: { color }, legendgroup: g.name,
    });
  });
  const title = [opts.title, missing.length > 0 ? `(no ${key}: ${missing.join(', ')})` : ''].filter(Boolean).join(' ');
  return {
    data,
    layout: {
      title: title ? { text: title } : undefined, xaxis: { title: { text: 'step' } },
      yaxis: { title: { text: opts.yTitle ?? key }, type: opts.logY ? 'log' : 'linear' },
      margin: { t: title ? 40 : 10, r: 10, b: 45, l: 55 }, legend: { orientation: 'h', y: -0.2 },
    },
  };
}
