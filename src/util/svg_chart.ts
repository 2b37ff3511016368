/**
 * A line chart as a self-contained SVG document (no script, no external file: it opens
 * offline in any browser and renders inside a README), each line with an optional band
 * (e.g. mean ± std) and a legend on the right. Small on purpose: the interactive charts are
 * the notebooks' (plotly); this is what a command writes beside a results table.
 */

/** One point of a line; `lo`/`hi` bound its band (absent: no band there). */
export interface ChartPoint {
  x: number;
  y: number;
  lo?: number;
  hi?: number;
}

export interface ChartSeries {
  name: string;
  points: ChartPoint[];
  /** A CSS colour. */
  color: string;
  /** Line width in pixels; default 1.5. */
  width?: number;
  /** A dashed line (references such as a baseline). */
  dashed?: boolean;
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** One line of small print under the title (e.g. what the bands are). */
  note?: string;
  width?: number;
  height?: number;
}

/** 20 distinguishable colours (Tableau 20, dark shades first), for many rows in one chart. */
export const CHART_COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22',
                             '#17becf', '#aec7e8', '#ffbb78', '#98df8a', '#ff9896', '#c5b0d5', '#c49c94', '#f7b6d2', '#c7c7c7',
                             '#dbdb8d', '#9edae5'];

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Round tick values covering [lo, hi] (about `count` of them, steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count, power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** The range of `values` with a margin, never empty. */
function paddedRange(values: number[], margin: number): [number, number] {
  let lo = Math.min(...values), hi = Math.max(...values);
  if (hi === lo) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  const pad = (hi - lo) * margin;
  return [lo - pad, hi + pad];
}

const fixed = (v: number) => v.toFixed(1);

/** The chart as an SVG document; a chart without any point is an error (nothing to draw). */
export function lineChartSvg(chart: LineChart): string {
  const width = chart.width ?? 960, height = chart.height ?? 540;
  const points = chart.series.flatMap((s) => s.points);
  if (points.length === 0) throw new Error(`Expected at least one point in the chart '${chart.title}', but got none`);
  const legendWidth = 210, left = 70, right = width - legendWidth - 20, top = chart.note ? 62 : 46, bottom = height - 50;
  const [x0, x1] = paddedRange(points.map((p) => p.x), 0.03);
  const [y0, y1] = paddedRange(points.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y]), 0.05);
  const px = (x: number) => left + ((x - x0) / (x1 - x0)) * (right - left);
  const py = (y: number) => bottom - ((y - y0) / (y1 - y0)) * (bottom - top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      'font-family="Helvetica, Arial, sans-serif" font-size="12">',
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left}" y="24" font-size="16" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  if (chart.note) out.push(`<text x="${left}" y="42" fill="#555">${escapeXml(chart.note)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    out.push(`<line x1="${left}" x2="${right}" y1="${fixed(py(t))}" y2="${fixed(py(t))}" stroke="#e5e5e5"/>`,
             `<text x="${left - 6}" y="${fixed(py(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(x0, x1)) {
    out.push(`<line x1="${fixed(px(t))}" x2="${fixed(px(t))}" y1="${bottom}" y2="${bottom + 5}" stroke="#333"/>`,
             `<text x="${fixed(px(t))}" y="${bottom + 18}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#333"/>`,
           `<text x="${(left + right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
           `<text transform="translate(18 ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(chart.yLabel)}</text>`);
  // Bands first, then lines, so that no band hides a line.
  for (const s of chart.series) {
    const banded = s.points.filter((p) => p.lo !== undefined && p.hi !== undefined);
    if (banded.length < 2) continue;
    const edge = [...banded.map((p) => `${fixed(px(p.x))},${fixed(py(p.hi!))}`),
                  ...banded.reverse().map((p) => `${fixed(px(p.x))},${fixed(py(p.lo!))}`)];
    out.push(`<polygon points="${edge.join(' ')}" fill="${s.color}" fill-opacity="0.13" stroke="none"/>`);
  }
  chart.series.forEach((s, i) => {
    const width = s.width ?? 1.5, dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    const path = s.points.map((p) => `${fixed(px(p.x))},${fixed(py(p.y))}`).join(' ');
    if (s.points.length > 1) out.push(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="${width}"${dash}/>`);
    const marker = (p: ChartPoint) => `<circle cx="${fixed(px(p.x))}" cy="${fixed(py(p.y))}" r="${1 + width}" fill="${s.color}"/>`;
    if (!s.dashed) out.push(...s.points.map(marker));
    const ly = top + 8 + i * 18;
    out.push(`<line x1="${right + 16}" x2="${right + 40}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="${width}"${dash}/>`,
             `<text x="${right + 46}" y="${ly + 4}"${s.width && s.width > 2 ? ' font-weight="bold"' : ''}>${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
