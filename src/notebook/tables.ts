/**
 * Tables for notebooks: danfojs-node DataFrames built from plain rows, and
 * their HTML (danfo's Node build has no toHTML; its print() is box-drawing
 * text). Only notebooks import this file: the training path never loads danfo.
 */
import * as dfd from 'danfojs-node';

export type Cell = number | string | boolean | null | undefined;
export type Row = Record<string, Cell>;

/**
 * A DataFrame of `rows` with `columns` (default: every key, in first-seen
 * order); missing cells become null, non-finite numbers NaN.
 */
export function dataFrame(rows: Row[], columns?: string[]): dfd.DataFrame {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (rows.length === 0) return new dfd.DataFrame([], { columns: cols });
  const clean = rows.map((r) => Object.fromEntries(cols.map((c) => {
    const v = r[c];
    return [c, v === undefined ? null : typeof v === 'number' && !Number.isFinite(v) ? NaN : v];
  })));
  return new dfd.DataFrame(clean, { columns: cols });
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A cell as text: numbers with `digits` significant decimals (integers as they are), empty for null/NaN. */
export function formatCell(v: unknown, digits = 3): string {
  if (v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  return String(v);
}

/** Options of dataFrameHtml. */
export interface TableOptions {
  /** Decimals of non-integer numbers; default 3. */
  digits?: number;
  /** A caption above the table. */
  caption?: string;
  /** Show the index column; default false. */
  index?: boolean;
  /** Per-column text instead of formatCell (e.g. percentages). */
  format?: Record<string, (v: unknown) => string>;
}

/** A DataFrame as a styled HTML <table> (numbers right-aligned) for tslab.display.html. */
export function dataFrameHtml(df: dfd.DataFrame, opts: TableOptions = {}): string {
  const columns = df.columns as string[];
  const values = (df.shape[0] === 0 ? [] : df.values) as unknown[][];
  const index = df.index as Array<string | number>;
  const th = (s: string) => `<th style="text-align:left;padding:2px 8px;border-bottom:1px solid #999">${escapeHtml(s)}</th>`;
  const td = (v: unknown, col: string) => {
    const text = opts.format?.[col]?.(v) ?? formatCell(v, opts.digits ?? 3);
    const align = typeof v === 'number' ? 'right' : 'left';
    return `<td style="text-align:${align};padding:2px 8px;font-variant-numeric:tabular-nums">${escapeHtml(text)}</td>`;
  };
  const head = `<tr>${opts.index ? th('') : ''}${columns.map(th).join('')}</tr>`;
  const body = values.map((row, i) =>
    `<tr>${opts.index ? td(index[i], '') : ''}${row.map((v, j) => td(v, columns[j])).join('')}</tr>`).join('\n');
  const caption = opts.caption
    ? `<caption style="caption-side:top;text-align:left;font-weight:bold">${escapeHtml(opts.caption)}</caption>`
    : '';
  return `<table style="border-collapse:collapse;font-size:13px">${caption}\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table>`;
}

/** Rows → DataFrame → HTML in one call. */
export function tableHtml(rows: Row[], opts: TableOptions & { columns?: string[] } = {}): string {
  return dataFrameHtml(dataFrame(rows, opts.columns), opts);
}

/** A fraction in [0, 1] as a percentage with one decimal (empty for null). */
export const percent = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '');
