/**
 * Where a notebook runs and how big it runs: quick mode (`BIGBIGAN_QUICK=1`,
 * set by `npm run notebooks` unless `--full`) shrinks steps and data so that
 * every notebook runs in a couple of minutes on 2 CPU cores (CI's smoke test).
 */
import * as fs from 'fs';
import * as path from 'path';

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
