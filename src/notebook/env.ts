/**
 * Where a notebook runs and how big it runs: quick mode (`BIGBIGAN_QUICK=1`,
 * set by `npm run notebooks` unless `--full`) shrinks steps and data so that
 * every notebook runs in a couple of minutes on 2 CPU cores (CI's smoke test).
 */
import * as fs from 'fs';
import * as path from 'path';

/** How big a notebook runs: 'quick' (a smoke test of minutes) or 'full' (the real step counts). */
export type NotebookMode = 'quick' | 'full';

/**
 * The mode a notebook runs in: `asked` (its parameter cell's choice), unless the environment says otherwise:
 * BIGBIGAN_QUICK=1 is quick, BIGBIGAN_QUICK=0 full (`npm run notebooks` sets it, `--full` for full).
 */
export function notebookMode(asked: NotebookMode, env: NodeJS.ProcessEnv = process.env): NotebookMode {
  if (asked !== 'quick' && asked !== 'full') throw new Error(`Expected the notebook mode 'quick' or 'full', but got '${String(asked)}'`);
  if (env.BIGBIGAN_QUICK === '1') return 'quick';
  if (env.BIGBIGAN_QUICK === '0') return 'full';
  return asked;
}

/**
 * A choice of a parameter cell that the environment may override for a headless run (`npm run notebooks` takes no
 * parameters): `asked`, unless `variable` is set, which must then be one of `choices`.
 */
export function choiceFromEnv<T extends string>(variable: string, choices: readonly T[], asked: T,
                                                env: NodeJS.ProcessEnv = process.env): T {
  const value = env[variable];
  if (value === undefined || value === '') return asked;
  if (!(choices as readonly string[]).includes(value)) {
    throw new Error(`Expected ${variable} to be ${choices.map((c) => `'${c}'`).join(' or ')}, but got '${value}'`);
  }
  return value as T;
}

/** A notebook's first line of output: the mode it runs in, why, and how to switch. */
export function modeNote(mode: NotebookMode, env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.BIGBIGAN_QUICK === '1' || env.BIGBIGAN_QUICK === '0';
  const why = fromEnv ? `BIGBIGAN_QUICK=${env.BIGBIGAN_QUICK} in the environment` : 'the first cell';
  const what = mode === 'quick' ? 'a smoke test on a small model and a few steps: it shows that the code runs, not a result'
    : 'the real step counts';
  return `**${mode} mode** (set by ${why}): ${what}. Switch with \`notebookMode('quick')\` / \`notebookMode('full')\` in the ` +
         'first cell (BIGBIGAN_QUICK=1 or 0 in the environment wins; `npm run notebooks` sets it, `-- --full` for full).';
}

/** True when the environment asks for quick mode: `BIGBIGAN_QUICK=1` (what `npm run notebooks` sets unless --full). */
export function quickMode(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.BIGBIGAN_QUICK === '1';
}

/** The repository root: the nearest folder above `from` (default: this file) holding package.json with name "bigbigan". */
export function repoRoot(from: string = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'bigbigan') return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(`Expected the bigbigan repository above ${from}, but found no package.json named bigbigan`);
    }
  }
}
