/**
 * The results table of an ablation sweep (data/results/<dataset>-ablations/results.csv):
 * one line per (row, seed) with its generation, representation and
 * reconstruction figures. Written by `bigbigan sweep` (sweep.ts), read by the
 * ablation notebook (notebook/ablations.ts). No tfjs here.
 */
import * as fs from 'fs';

/**
 * The columns of a results table; `status` is 'done' or 'diverged' (training
 * stopped at a non-finite loss: figures empty), `run` the run folder.
 */
export const RESULT_COLUMNS = ['row', 'seed', 'steps', 'IS', 'FID', 'probe_top1', 'probe_top5', 'knn1', 'class_consistency', 'wall_s',
                               'probe_top1_random_init', 'knn1_random_init', 'status', 'run'] as const;
export type ResultColumn = (typeof RESULT_COLUMNS)[number];
/** The figures a row is summarised by (mean and spread over seeds). */
export const RESULT_METRICS = ['IS', 'FID', 'probe_top1', 'probe_top5', 'knn1', 'class_consistency', 'wall_s',
                               'probe_top1_random_init', 'knn1_random_init'] as const;
export type ResultMetric = (typeof RESULT_METRICS)[number];

/** One (row, seed) result; null where a figure does not exist (e.g. no probe without E). */
export type ResultRow = { row: string; seed: number; steps: number; status?: string; run?: string } & Record<ResultMetric, number | null>;

/** Parses CSV text (RFC 4180: quotes, doubled quotes, commas and newlines inside quotes) into rows of strings keyed by the header. */
export function parseCsv(text: string): Array<Record<string, string>> {
  const records: string[][] = [];
  let field = '', record: string[] = [], quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { record.push(field); field = ''; } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      record.push(field); field = '';
      if (record.some((f) => f !== '')) records.push(record);
      record = [];
    } else field += c;
  }
  record.push(field);
  if (record.some((f) => f !== '')) records.push(record);
  if (records.length === 0) return [];
  const [head, ...body] = records;
  return body.map((r) => Object.fromEntries(head.map((h, j) => [h.trim(), (r[j] ?? '').trim()])));
}

const toNumber = (v: unknown): number | null => {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : null;
};

/** Plain objects (from CSV or JSON) as ResultRows; a row without `row` is an error naming it. */
export function toResultRows(records: Array<Record<string, unknown>>, source = 'results'): ResultRow[] {
  return records.map((r, i) => {
    if (typeof r.row !== 'string' || r.row === '') throw new Error(`Expected a 'row' name in line ${i + 1} of ${source}, but got ${JSON.stringify(r.row)}`);
    const out = { row: r.row, seed: toNumber(r.seed) ?? 0, steps: toNumber(r.steps) ?? 0 } as ResultRow;
    for (const m of RESULT_METRICS) out[m] = toNumber(r[m]);
    for (const k of ['status', 'run'] as const) if (typeof r[k] === 'string' && r[k] !== '') out[k] = r[k] as string;
    return out;
  });
}

/**
 * The results table at `file` (.csv with RESULT_COLUMNS, or .json: an array
 * of such objects, or { rows: [...] }), or null when the file does not exist.
 */
export function readResultsTable(file: string): ResultRow[] | null {
  if (!fs.existsSync(file)) return null;
  const text = fs.readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    const parsed = JSON.parse(text) as unknown;
    const list = Array.isArray(parsed) ? parsed : (parsed as { rows?: unknown }).rows;
    if (!Array.isArray(list)) throw new Error(`Expected an array of result rows in ${file}, but got ${typeof parsed}`);
    return toResultRows(list as Array<Record<string, unknown>>, file);
  }
  return toResultRows(parseCsv(text), file);
}

/** ResultRows as CSV text with RESULT_COLUMNS (the format of data/results/<dataset>-ablations.csv). */
export function resultsCsv(rows: ResultRow[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  return [RESULT_COLUMNS.join(','), ...rows.map((r) => RESULT_COLUMNS.map((c) => cell(r[c])).join(','))].join('\n') + '\n';
}

