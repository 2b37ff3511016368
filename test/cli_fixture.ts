/** What the hostile-input and kill tests share: the CLI as a child process, tiny settings, folder snapshots. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, SpawnSyncOptions } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint } from '../src/train/checkpoint';
import { TINY } from './sweep_fixture';

export const CLI = path.join(__dirname, '..', 'src', 'cli.js');
/** One native thread and wasm: runs in separate processes are then bit for bit the same (README, Performance notes). */
export const ENV = { ...process.env, BIGBIGAN_BACKEND: 'wasm', BIGBIGAN_NATIVE_THREADS: '1' };
/** A 16x16 model, no evaluation or diagnostics: a few seconds per run. */
export const SMALL = [...TINY, 'evalEvery=0', 'diagEvery=0', 'checkpointEvery=2', 'sampleEvery=2', 'keepCheckpoints=5']
  .flatMap((s) => ['--set', s]);

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  /** stderr as lines (progress redraws split too). */
  lines: string[];
}

const asResult = (code: number | null, signal: NodeJS.Signals | null, out: string, err: string): CliResult =>
  ({ code, signal, out, lines: err.split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean) });

export function cli(args: string[], opts: SpawnSyncOptions = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: ENV, ...opts });
  return asResult(r.status, r.signal, String(r.stdout), String(r.stderr));
}

/** The CLI in the background (to race two, or to kill one at a moment of the test's choosing). */
export function cliAsync(args: string[], env: NodeJS.ProcessEnv = ENV): { child: ReturnType<typeof spawn>; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env });
  let out = '', err = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stderr.on('data', (d: Buffer) => { err += d; });
  const done = new Promise<CliResult>((resolve) => child.on('close', (code, signal) => resolve(asResult(code, signal, out, err))));
  return { child, done };
}

/** Every file under `dir` (recursively) with a hash of its content; null when `dir` does not exist. */
export function snapshot(dir: string): Record<string, string> | null {
  if (!fs.existsSync(dir)) return null;
  const files: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const st = fs.lstatSync(p);
      if (st.isDirectory()) {
        files[path.relative(dir, p) + '/'] = 'folder';
        try { walk(p); } catch { files[path.relative(dir, p) + '/'] = 'unreadable folder'; }
      } else {
        files[path.relative(dir, p)] = st.isSymbolicLink()
          ? `-> ${fs.readlinkSync(p)}`
          : createHash('sha1').update(fs.readFileSync(p)).digest('hex');
      }
    }
  };
  walk(dir);
  return files;
}

/** A checkpoint's metadata and tensors as plain data, to compare two bit for bit. */
export function checkpointData(file: string): { meta: unknown; values: Record<string, number[]> } {
  const c = loadCheckpoint(file);
  return { meta: c.meta, values: Object.fromEntries([...c.values].map(([k, v]) => [k, Array.from(v.data)])) };
}

/** metrics.jsonl without what depends on the clock (time, step_s, img_per_s). */
export function metricsWithoutTimes(dir: string): object[] {
  return fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const { time: _t, step_s: _s, img_per_s: _i, ...rest } = JSON.parse(l) as Record<string, unknown>;
    return rest;
  });
}
