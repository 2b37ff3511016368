/**
 * Opening a run folder for training, so that a run is never lost, never mixed
 * with another and never continued from something damaged:
 *  - the folder is locked (lock.ts) for the whole run: one process at a time;
 *  - a fresh start refuses a folder with checkpoints, and takes over one whose
 *    run stopped before its first checkpoint (nothing there can be continued);
 *  - `resume` continues from the newest checkpoint that reads back intact
 *    (checksum), setting damaged newer ones aside as `<name>.damaged`, or from
 *    step 0 when the run stopped before its first checkpoint;
 *  - what an interrupted run left half-done is cleaned: temporary files,
 *    a torn last line of metrics.jsonl, lines and pictures of steps after the
 *    checkpoint (they are trained again, identically).
 * Every such decision is one sentence in `notes`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Checkpoint, loadNewestIntact, listCheckpoints } from './checkpoint';
import { Config } from './config';
import { ensureFolder, fileError, guarded, pathKind, writeFileAtomic } from './fs_safe';
import { acquireLock, FolderLock, removeLockLeftovers } from './lock';

/** What run.ts stores in a checkpoint's metadata that this file reads. */
export interface RunMeta {
  config: Config;
  step: number;
  /** The checkpoint ended a run (its last step, or --minutes ran out): that step's diagnostics and evaluation are due. */
  end?: boolean;
}

/** One line of metrics.jsonl: a training line (no kind) or a 'diag' / 'eval' line. */
export interface MetricsLine {
  text: string;
  step: number;
  kind?: string;
}

/**
 * The lines of a metrics.jsonl file. A last line without its newline or not
 * JSON is torn (a crash or a full disk during the append): returned apart. A
 * bad line before the last is an error naming the file and the line.
 */
export function readMetricsLines(file: string): { lines: MetricsLine[]; torn: string | null } {
  if (pathKind(file) === 'missing') return { lines: [], torn: null };
  const text = guarded('read', file, () => fs.readFileSync(file, 'utf8'));
  const parts = text.split('\n');
  const last = parts.pop() ?? '';  // '' when the file ends with its newline
  const lines: MetricsLine[] = [];
  let torn: string | null = last === '' ? null : last;
  parts.forEach((line, i) => {
    let row: { step?: unknown; kind?: unknown } | null = null;
    try { row = JSON.parse(line); } catch { /* reported below */ }
    if (row !== null && typeof row === 'object' && typeof row.step === 'number') {
      lines.push({ text: line, step: row.step, kind: typeof row.kind === 'string' ? row.kind : undefined });
    } else if (i === parts.length - 1 && torn === null) {
      torn = line;
    } else {
      throw new Error(`Expected a JSON object with a step on every line of ${file}, but line ${i + 1} is ${JSON.stringify(line.slice(0, 60))}: ` +
                      'fix or remove that line, then resume');
    }
  });
  return { lines, torn };
}

const PICTURE = /^(?:samples|recon)-(\d+)\.png$/;

/** Whether the folder holds lines of both kinds at `step`. */
function loggedAt(lines: MetricsLine[], step: number): { diag: boolean; eval: boolean } {
  return { diag: lines.some((l) => l.kind === 'diag' && l.step === step), eval: lines.some((l) => l.kind === 'eval' && l.step === step) };
}

/**
 * Drops what a run wrote after step `step` (metrics lines, pictures) and a torn
 * last line; with step 0 its metrics and pictures go entirely (the run starts over).
 */
function rewindTo(out: string, step: number, notes: string[]): { diag: boolean; eval: boolean } {
  const file = path.join(out, 'metrics.jsonl');
  const { lines, torn } = readMetricsLines(file);
  if (torn !== null) notes.push(`dropped the torn last line of ${file} (${torn.length} bytes an interrupted run left)`);
  const kept = step === 0 ? [] : lines.filter((l) => l.step <= step);
  if (kept.length === 0) guarded('remove', file, () => fs.rmSync(file, { force: true }));
  else if (kept.length < lines.length || torn !== null) writeFileAtomic(file, kept.map((l) => l.text + '\n').join(''));
  for (const name of fs.readdirSync(out)) {
    const m = PICTURE.exec(name);
    if (m !== null && (step === 0 || Number(m[1]) > step)) guarded('remove', path.join(out, name), () => fs.rmSync(path.join(out, name)));
  }
  return loggedAt(kept, step);
}

/** The config a run folder's config.json holds; one clear error when it cannot be read. */
function readConfigFile(file: string): Config {
  const text = guarded('read', file, () => fs.readFileSync(file, 'utf8'));
  try {
    return JSON.parse(text) as Config;
  } catch (e) {
    throw new Error(`Expected ${file} to hold the run's config as JSON, but it does not (${(e as Error).message}): ` +
                    'this run has no checkpoint to lose, so start it again without --resume');
  }
}

export interface OpenedRun<Meta extends RunMeta> {
  lock: FolderLock;
  /** Whether openRunFolder took the lock (and the caller must release it). */
  ownLock: boolean;
  /** Whether the folder did not exist before. */
  created: boolean;
  /** The checkpoint to continue from (null: start at step 0). */
  latest: Checkpoint<Meta> | null;
  /** Whether metrics.jsonl has the 'diag' and 'eval' lines of the step the run continues from. */
  logged: { diag: boolean; eval: boolean };
  /** What was decided, one sentence each. */
  notes: string[];
}

/**
 * Locks `out` (unless `lock` is held already) and prepares it for a fresh
 * start or (`resume`) a continuation of the run of `cfg`; see the file
 * comment. `differs(a, b)` names the keys in which two configs are not the
 * same run. Nothing in the folder changes when this throws.
 */
export async function openRunFolder<Meta extends RunMeta>(opts: {
  out: string; cfg: Config; resume: boolean; lock?: FolderLock; differs: (a: Config, b: Config) => string[];
}): Promise<OpenedRun<Meta>> {
  const { out, cfg, resume } = opts;
  if (resume && pathKind(out) === 'missing') {
    throw new Error(`Expected a run to resume in ${out}, but the folder does not exist: start it without --resume`);
  }
  const created = ensureFolder(out, 'the run folder');
  const lock = opts.lock ?? await acquireLock(out, { what: 'Run folder' });
  const notes: string[] = [];
  if (lock.tookOver !== null) notes.push(`${out} was locked by process ${lock.tookOver.pid} on ${lock.tookOver.host}, which is no longer running: lock taken over`);
  try {
    const latest = inspect<Meta>(out, cfg, resume, opts.differs, notes);
    const step = latest?.meta.step ?? 0;
    return { lock, ownLock: opts.lock === undefined, created, latest, logged: rewindTo(out, step, notes), notes };
  } catch (e) {
    if (opts.lock === undefined) lock.release();
    if (created) fs.rmSync(out, { recursive: true, force: true });
    throw e;
  }
}

/** The decisions of openRunFolder (the folder is locked); the changes they need, made only once nothing can refuse. */
function inspect<Meta extends RunMeta>(out: string, cfg: Config, resume: boolean, differs: (a: Config, b: Config) => string[],
                                       notes: string[]): Checkpoint<Meta> | null {
  const configFile = path.join(out, 'config.json');
  const hasConfig = pathKind(configFile) === 'file';
  const files = guarded('list', out, () => listCheckpoints(out));
  if (!resume && files.length > 0) {
    throw new Error(`Output folder ${out} already holds a run: pass --resume to continue it, or choose another --out`);
  }
  if (resume && !hasConfig && files.length === 0) {
    throw new Error(`Expected a run to resume in ${out}, but it holds none (no config.json, no checkpoint): start it without --resume`);
  }
  const { ckpt, damaged } = resume ? loadNewestIntact<Meta>(out) : { ckpt: null, damaged: [] };
  if (resume) {
    const theirs = ckpt !== null ? ckpt.meta.config : hasConfig ? readConfigFile(configFile) : null;  // null: every checkpoint damaged
    const keys = theirs === null ? [] : differs(theirs, cfg);
    if (keys.length > 0) throw new Error(`Expected the config of the run in ${out}, but ${keys.map((k) => `${k} differs`).join(', ')}`);
    const step = ckpt?.meta.step ?? 0;
    if (step > cfg.steps) {
      throw new Error(`Expected steps ≥ ${step} to resume the run in ${out} (its newest intact checkpoint is at step ${step}), but got ${cfg.steps}`);
    }
  }
  // Nothing refuses from here on: clean up and say what was done.
  removeLockLeftovers(out);
  for (const name of fs.readdirSync(out).filter((n) => n.endsWith('.tmp'))) {
    guarded('remove', path.join(out, name), () => fs.rmSync(path.join(out, name), { force: true }));
    notes.push(`removed ${path.join(out, name)}, a file an interrupted run left half-written`);
  }
  for (const d of damaged) {
    try {
      fs.renameSync(d.file, `${d.file}.damaged`);
    } catch (e) {
      throw fileError('set aside the damaged checkpoint', d.file, e);
    }
    notes.push(`${d.message}; kept as ${d.file}.damaged`);
  }
  if (ckpt !== null) {
    notes.push(`resuming from ${ckpt.file} (step ${ckpt.meta.step})` + (damaged.length > 0 ? ', the newest intact checkpoint' : ''));
  } else if (resume) {
    notes.push(`no ${damaged.length > 0 ? 'intact ' : ''}checkpoint in ${out} (the run stopped before its first one): training it again from step 0`);
  } else if (hasConfig) {
    notes.push(`${out} held a run that stopped before its first checkpoint: starting afresh in it (its metrics and pictures are replaced)`);
  }
  return ckpt;
}
