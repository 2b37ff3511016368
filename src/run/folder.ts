/**
 * Opening a run folder for training, so that a run is never lost, never mixed
 * with another and never continued from something damaged:
 *  - the folder is locked (run/lock.ts) for the whole run: one process at a time;
 *  - a fresh start refuses a folder with checkpoints, and takes over one whose
 *    run stopped before its first checkpoint (nothing there can be continued);
 *  - `resume` continues from the newest checkpoint that reads back intact
 *    (checksum), setting damaged newer ones aside as `<name>.damaged`, or from
 *    step 0 when the run stopped before its first checkpoint; with every
 *    checkpoint damaged it refuses (and names them) rather than start over;
 *  - what an interrupted run left half-done is cleaned: temporary files,
 *    a torn last line of metrics.jsonl, lines and pictures of steps after the
 *    checkpoint (they are trained again, identically).
 * Every such decision is one sentence in `notes`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Checkpoint, DamagedCheckpointError, listCheckpoints, loadNewestIntact } from '../train/checkpoint';
import { Config } from '../config';
import { ensureFolder, guarded, pathKind, readJsonFile, removeTemporaryFiles, writeFileAtomic } from '../util/fs_safe';
import { acquireLock, FolderLock } from './lock';

/** What run/train_run.ts stores in a checkpoint's metadata that this file reads. */
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
      throw new Error(`Expected a JSON object with a step on every line of ${file}, ` +
                      `but line ${i + 1} is ${JSON.stringify(line.slice(0, 60))}: fix or remove that line, then resume`);
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
function rewindTo(out: string, step: number, { lines, torn }: ReturnType<typeof readMetricsLines>,
                  notes: string[]): { diag: boolean; eval: boolean } {
  const file = path.join(out, 'metrics.jsonl');
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
  return readJsonFile<Config>(file, "the run's config", 'this run has no checkpoint to lose, so start it again without --resume');
}

export interface OpenedRun<Meta extends RunMeta> {
  lock: FolderLock;
  /** Whether openRunFolder took the lock (and the caller must release it). */
  ownLock: boolean;
  /** The outermost folder openRunFolder created (null: `out` existed): removed again if the run writes nothing. */
  created: string | null;
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
  // Refused the lock, this process leaves the folder alone, even one it created: the lock's holder may be writing in it.
  const lock = opts.lock ?? await acquireLock(out, { what: 'Run folder' });
  try {
    const found = check<Meta>(out, cfg, resume, opts.differs);
    const metrics = readMetricsLines(path.join(out, 'metrics.jsonl'));
    // Nothing refuses from here on.
    const notes = lock.tookOver === null ? []
      : [`${out} was locked by process ${lock.tookOver.pid} on ${lock.tookOver.host}, which is no longer running: lock taken over`];
    tidy(out, found, resume, notes);
    const logged = rewindTo(out, found.ckpt?.meta.step ?? 0, metrics, notes);
    return { lock, ownLock: opts.lock === undefined, created, latest: found.ckpt, logged, notes };
  } catch (e) {
    if (opts.lock === undefined) lock.release();
    if (created !== null) fs.rmSync(created, { recursive: true, force: true });
    throw e;
  }
}

/** Whether `dir` holds a run (its config.json or a checkpoint): what `resume` continues and a fresh start must not overwrite. */
export function holdsRun(dir: string): boolean {
  return pathKind(path.join(dir, 'config.json')) === 'file' || listCheckpoints(dir).length > 0;
}

interface Found<Meta> {
  ckpt: Checkpoint<Meta> | null;
  damaged: DamagedCheckpointError[];
  hasConfig: boolean;
}

/** The refusals of openRunFolder, and what it found; changes nothing. */
function check<Meta extends RunMeta>(out: string, cfg: Config, resume: boolean, differs: (a: Config, b: Config) => string[]): Found<Meta> {
  const configFile = path.join(out, 'config.json');
  const hasConfig = pathKind(configFile) === 'file';
  const files = guarded('list', out, () => listCheckpoints(out));
  if (!resume && files.length > 0) {
    throw new Error(`Output folder ${out} already holds a run: pass --resume to continue it, or choose another --out`);
  }
  if (!resume) return { ckpt: null, damaged: [], hasConfig };
  if (!hasConfig && files.length === 0) {
    throw new Error(`Expected a run to resume in ${out}, but it holds none (no config.json, no checkpoint): start it without --resume`);
  }
  const { ckpt, damaged } = loadNewestIntact<Meta>(out);
  if (ckpt === null && damaged.length > 0) {
    throw new Error(`Expected an intact checkpoint to resume in ${out}, but all ${damaged.length} are damaged ` +
                    `(newest: ${damaged[0].message}); move them out of the folder to train the run again from step 0`);
  }
  const keys = differs(ckpt !== null ? ckpt.meta.config : readConfigFile(configFile), cfg);
  if (keys.length > 0) throw new Error(`Expected the config of the run in ${out}, but ${keys.map((k) => `${k} differs`).join(', ')}`);
  const step = ckpt?.meta.step ?? 0;
  if (step > cfg.steps) {
    throw new Error(`Expected steps ≥ ${step} to resume the run in ${out} (its newest intact checkpoint is at step ${step}), ` +
                    `but got ${cfg.steps}`);
  }
  return { ckpt, damaged, hasConfig };
}

/** Removes what an interrupted run left half-written and sets damaged checkpoints aside, saying so. */
function tidy<Meta extends RunMeta>(out: string, { ckpt, damaged, hasConfig }: Found<Meta>, resume: boolean, notes: string[]): void {
  for (const file of removeTemporaryFiles(out)) notes.push(`removed ${file}, a file an interrupted run left half-written`);
  for (const d of damaged) {
    guarded('set aside the damaged checkpoint', d.file, () => fs.renameSync(d.file, `${d.file}.damaged`));
    notes.push(`${d.message}; kept as ${d.file}.damaged`);
  }
  if (ckpt !== null) {
    notes.push(`resuming from ${ckpt.file} (step ${ckpt.meta.step})` + (damaged.length > 0 ? ', the newest intact checkpoint' : ''));
  } else if (hasConfig) {
    notes.push(`the run in ${out} stopped before its first checkpoint: training it ${resume ? 'again' : 'afresh'} from step 0 ` +
               '(its metrics and pictures are replaced)');
  }
}
