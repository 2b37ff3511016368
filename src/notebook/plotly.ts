/**
 * Interactive plotly.js charts in notebook outputs, offline: the library is
 * inlined once per notebook from the npm package `plotly.js-dist-min` (no
 * CDN), and each chart is a <div> plus a script calling Plotly.newPlot.
 * Display both with tslab.display.html (or a tslab.newDisplay() to redraw a
 * chart in place). While the library loads, window.define is hidden: the
 * HTML that nbconvert writes loads require.js, and plotly would otherwise
 * register itself as an AMD module and leave window.Plotly unset.
 */
import * as fs from 'fs';

/** A plotly trace (https://plotly.com/javascript/reference/), kept loose on purpose. */
export type Trace = Record<string, unknown>;

export interface Figure {
  data: Trace[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

/** One line of a line chart: y may hold null (a gap). */
export interface Series {
  name: string;
  x: number[];
  y: Array<number | null>;
  /** plotly line dash: 'solid', 'dash', 'dot', ... */
  dash?: string;
  /** Draw markers on the points too (sparse series such as evaluations). */
  markers?: boolean;
  /** Secondary y axis (right side). */
  y2?: boolean;
  /** A CSS colour (default: plotly's colour cycle). */
  color?: string;
  /** Line opacity in [0, 1] (e.g. raw values behind a smoothed curve). */
  opacity?: number;
}

/** plotly's default colour cycle, to give related series one colour. */
export const PLOTLY_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The path of plotly.min.js in node_modules. */
export function plotlyLibraryFile(): string {
  return require.resolve('plotly.js-dist-min/plotly.min.js');
}

/** plotly.js's version, read from its package.json. */
export function plotlyVersion(): string {
  return (JSON.parse(fs.readFileSync(require.resolve('plotly.js-dist-min/package.json'), 'utf8')) as { version: string }).version;
}

/** Text that must not end an inline <script> early. */
function scriptSafe(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1');
}

/**
 * HTML that loads plotly.js inline (about 4.7 MB): display it once, in the
 * notebook's first cell, before any chart. window.define is hidden while it
 * runs and restored afterwards.
 */
export function plotlyLibraryHtml(): string {
  const lib = scriptSafe(fs.readFileSync(plotlyLibraryFile(), 'utf8'));
  return [
    '<script type="text/javascript">window.__bigbiganDefine = window.define; window.define = undefined;</script>',
    `<script type="text/javascript">${lib}</script>`,
    '<script type="text/javascript">window.define = window.__bigbiganDefine; delete window.__bigbiganDefine;</script>',
    `<div style="font-size:smaller;color:#666">plotly.js ${plotlyVersion()} inlined (offline)</div>`,
  ].join('\n');
}

/** JSON that is safe inside an inline <script>. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))
    .replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

let plotCounter = 0;

/**
 * A chart as HTML: a <div> of `height` pixels and a script that draws
 * `figure` into it with Plotly.newPlot (or says that the library is missing).
 */
export function plotlyFigureHtml(figure: Figure, opts: { id?: string; height?: number } = {}): string {
  const id = opts.id ?? `bigbigan-plot-${Date.now().toString(36)}-${(plotCounter++).toString(36)}`;
  const height = opts.height ?? 360;
  const config = { responsive: true, displaylogo: false, ...figure.config };
  return [
    `<div id="${id}" style="width:100%;height:${height}px"></div>`,
    '<script type="text/javascript">(function () {',
    `  var el = document.getElementById(${scriptJson(id)});`,
    "  if (!window.Plotly) { el.textContent = 'plotly.js is not loaded: run the cell that displays plotlyLibraryHtml() first.'; return; }",
    `  window.Plotly.newPlot(el, ${scriptJson(figure.data)}, ${scriptJson(figure.layout ?? {})}, ${scriptJson(config)});`,
    '})();</script>',
  ].join('\n');
}

/** Options of lineFigure. */
export interface LineOptions {
  title?: string;
  xTitle?: string;
  yTitle?: string;
  y2Title?: string;
  /** Logarithmic y axis. */
  logY?: boolean;
}

/** A line chart of several series against a shared x (e.g. training step). */
export function lineFigure(series: Series[], opts: LineOptions = {}): Figure {
  const data = series.map((s) => ({
    type: 'scatter', mode: s.markers ? 'lines+markers' : 'lines', name: s.name, x: s.x, y: s.y,
    line: { dash: s.dash ?? 'solid', ...(s.color ? { color: s.color } : {}) }, connectgaps: false,
    ...(s.y2 ? { yaxis: 'y2' } : {}), ...(s.opacity !== undefined ? { opacity: s.opacity } : {}),
  }));
  const layout: Record<string, unknown> = {
    title: opts.title ? { text: opts.title } : undefined,
    xaxis: { title: { text: opts.xTitle ?? 'step' } },
    yaxis: { title: { text: opts.yTitle ?? '' }, type: opts.logY ? 'log' : 'linear' },
    margin: { t: opts.title ? 40 : 10, r: 10, b: 45, l: 55 },
    legend: { orientation: 'h', y: -0.2 },
  };
  if (series.some((s) => s.y2)) layout.yaxis2 = { title: { text: opts.y2Title ?? '' }, overlaying: 'y', side: 'right' };
  return { data, layout };
}

/** One group of bars: a name and values per category, optional ± error. */
export interface BarGroup {
  name: string;
  y: Array<number | null>;
  error?: Array<number | null>;
}

/** A reference figure per category, drawn as a wide horizontal tick over its group of bars (e.g. a baseline). */
export interface BarReference {
  name: string;
  y: Array<number | null>;
  /** A CSS colour; default dark grey. */
  color?: string;
}

/** Grouped bars over `categories` (e.g. ablation rows), with error bars where a group has them and reference ticks above. */
export function barFigure(categories: string[], groups: BarGroup[],
                          opts: { title?: string; yTitle?: string; references?: BarReference[] } = {}): Figure {
  const bars = groups.map((g) => ({
    type: 'bar', name: g.name, x: categories, y: g.y,
    ...(g.error ? { error_y: { type: 'data', array: g.error.map((e) => e ?? 0), visible: true } } : {}),
  }));
  // A 'line-ew' marker is a horizontal stroke: sized to span most of a group, it reads as that category's reference level.
  const ticks = (opts.references ?? []).map((r) => ({
    type: 'scatter', mode: 'markers', name: r.name, x: categories, y: r.y,
    marker: { symbol: 'line-ew', size: 40, line: { width: 3, color: r.color ?? '#444444' } },
  }));
  return {
    data: [...bars, ...ticks],
    layout: {
      barmode: 'group', title: opts.title ? { text: opts.title } : undefined,
      yaxis: { title: { text: opts.yTitle ?? '' } }, margin: { t: opts.title ? 40 : 10, r: 10, b: 80, l: 55 },
      legend: { orientation: 'h', y: -0.35 },
    },
  };
}
