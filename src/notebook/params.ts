/**
 * The notebooks' shared run settings: notebooks/params.json holds, per mode,
 * the run that 01, 03, 04 and 05 train and show (preset, steps, model,
 * overrides, data, evaluation, where runs live), so that one edit reaches
 * all of them. Each notebook's parameter cell picks the mode and may add
 * changes of its own on top (which then make a run of their own).
 */
import * as path from 'path';
import { Config } from '../config';
import type { EvalSettings } from '../eval/evaluate';
import { readJsonFile } from '../util/fs_safe';
import { NotebookMode, repoRoot } from './env';
import { RunSpec } from './runs';

/** One mode's entry of notebooks/params.json. */
export interface ModeParams {
  preset: string;
  steps: number;
  /** Config values beneath an ablation row's delta (resolveConfig's `beneath`): quick mode's smaller model. */
  model: Partial<Config>;
  /** Config values on top of the row's delta, like --set. */
  overrides: Partial<Config>;
  data: { limit?: number };
  evaluation: { settings?: EvalSettings; featureNetSteps?: number };
  /** The runs' root folder, relative to the repository. */
  runs: string;
}

const MODE_KEYS: ReadonlyArray<keyof ModeParams> = ['preset', 'steps', 'model', 'overrides', 'data', 'evaluation', 'runs'];

/** notebooks/params.json of this repository. */
export function paramsFile(): string {
  return path.join(repoRoot(), 'notebooks', 'params.json');
}

/** One mode's settings from `file`, checked for shape (every key present, no other; config keys are checked by runConfig). */
export function readModeParams(mode: NotebookMode, file = paramsFile()): ModeParams {
  const all = readJsonFile<Record<string, unknown>>(file, "the notebooks' shared run settings",
                                                    'fix it (git checkout notebooks/params.json)');
  const p = all[mode] as Record<string, unknown> | undefined;
  if (p === undefined || p === null || typeof p !== 'object') {
    throw new Error(`Expected ${file} to hold a "${mode}" object, but it has none`);
  }
  const missing = MODE_KEYS.filter((k) => !(k in p));
  const unknown = Object.keys(p).filter((k) => !MODE_KEYS.includes(k as keyof ModeParams));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(`Expected "${mode}" in ${file} to have the keys ${MODE_KEYS.join(', ')}, but ` +
                    [missing.length ? `${missing.join(', ')} missing` : '', unknown.length ? `${unknown.join(', ')} unknown` : '']
                      .filter(Boolean).join(' and '));
  }
  if (typeof p.preset !== 'string' || !Number.isInteger(p.steps) || (p.steps as number) < 1 || typeof p.runs !== 'string') {
    throw new Error(`Expected "${mode}" in ${file} to have a preset name, whole steps ≥ 1 and a runs folder, but got ` +
                    `preset ${JSON.stringify(p.preset)}, steps ${JSON.stringify(p.steps)}, runs ${JSON.stringify(p.runs)}`);
  }
  return p as unknown as ModeParams;
}

/** A notebook's own changes on top of the shared run (each makes a run of its own: runs.ts runKey). */
export interface RunChanges {
  steps?: number;
  overrides?: Partial<Config>;
}

/** The shared run of `mode` with `changes` on top: its spec and the absolute folder its runs live in. */
export function sharedRun(mode: NotebookMode, changes: RunChanges = {}, file = paramsFile()): { spec: RunSpec; runs: string } {
  const p = readModeParams(mode, file);
  const spec: RunSpec = {
    preset: p.preset, steps: changes.steps ?? p.steps, model: p.model, overrides: { ...p.overrides, ...changes.overrides },
    data: p.data, evaluation: p.evaluation,
  };
  return { spec, runs: path.resolve(repoRoot(path.dirname(file)), p.runs) };
}

