/**
 * `npm run notebooks [-- options]`: executes the notebooks in notebooks/
 * headless with the tslab kernel (jupyter nbconvert --execute), in quick
 * mode unless --full, writing executed copies (and with --html, HTML pages)
 * outside the tracked notebooks. Exits non-zero if any notebook fails.
 *
 *   --full          full mode (BIGBIGAN_QUICK=0): the real step counts; long
 *   --html          also export each executed notebook as HTML
 *   --fresh         delete the notebooks' training runs first (runs/notebooks-quick or -full)
 *   --only A,B      only the notebooks whose names start with A or B (e.g. 01,03)
 *   --out DIR       executed copies go here (default runs/notebooks/quick or runs/notebooks/full)
 *   --timeout S     per-cell timeout in seconds (default 900 quick, none full)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './env';
import { installTslabKernel, jupyterPython } from './jupyter';

interface Args { full: boolean; html: boolean; fresh: boolean; only: string[]; out: string | null; timeout: number | null }

const USAGE = 'usage: npm run notebooks -- [--full] [--html] [--fresh] [--only 01,03] [--out DIR] [--timeout SECONDS]';

export function parseArgs(argv: string[]): Args {
  const args: Args = { full: false, html: false, fresh: false, only: [], out: null, timeout: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`Expected a value after ${a}\n${USAGE}`);
      return v;
    };
    if (a === '--full') args.full = true;
    else if (a === '--html') args.html = true;
    else if (a === '--fresh') args.fresh = true;
    else if (a === '--only') args.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--out') args.out = value();
    else if (a === '--timeout') {
      args.timeout = Number(value());
      if (!Number.isFinite(args.timeout) || args.timeout <= 0) throw new Error(`Expected --timeout in seconds > 0, but got ${argv[i]}`);
    } else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`Expected an option, but got '${a}'\n${USAGE}`);
  }
  return args;
}

/** The notebooks to run: notebooks/NN-*.ipynb in order, filtered by --only prefixes. */
export function listNotebooks(dir: string, only: string[] = []): string[] {
  return fs.readdirSync(dir).filter((f) => /^\d\d-.*\.ipynb$/.test(f)).sort()
    .filter((f) => only.length === 0 || only.some((p) => f.startsWith(p)));
}

/** Seconds per code cell of an executed notebook (nbclient's iopub busy → idle timestamps), in cell order. */
export function cellSeconds(
  executed: { cells: Array<{ cell_type: string; metadata?: { execution?: Record<string, string> } }> },
): number[] {
  return executed.cells.filter((c) => c.cell_type === 'code').map((c) => {
    const e = c.metadata?.execution ?? {};
    const busy = Date.parse(e['iopub.status.busy'] ?? ''), idle = Date.parse(e['iopub.status.idle'] ?? '');
    return Number.isFinite(busy) && Number.isFinite(idle) ? (idle - busy) / 1000 : 0;
  });
}

/** "cell 3: 61 s, cell 7: 12 s": the slowest code cells of an executed notebook file. */
function slowestCells(file: string, n = 3): string {
  if (!fs.existsSync(file)) return '';
  const secs = cellSeconds(JSON.parse(fs.readFileSync(file, 'utf8')));
  return secs.map((s, i) => ({ s, i })).sort((a, b) => b.s - a.s).slice(0, n).filter((c) => c.s >= 1)
    .map((c) => `code cell ${c.i + 1}: ${c.s.toFixed(0)} s`).join(', ');
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, quiet = false): number {
  const r = spawnSync(cmd, args, { cwd, env, stdio: quiet ? 'pipe' : 'inherit' });
  if (r.error) throw new Error(`Could not run ${cmd}: ${r.error.message}`);
  return r.status ?? 1;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const root = repoRoot();
  const mode = args.full ? 'full' : 'quick';
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BIGBIGAN_QUICK: args.full ? '0' : '1',
    PATH: `${path.join(root, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`,
  };
  if (run('jupyter', ['nbconvert', '--version'], env, root, true) !== 0) {
    throw new Error('Expected Jupyter with nbconvert, but `jupyter nbconvert` does not run. Install it: on Debian ' +
      '`apt-get install -y jupyter-notebook jupyter-nbconvert python3-ipykernel`, elsewhere `pip install notebook nbconvert ipykernel`');
  }
  const python = jupyterPython(env);
  const findTslab = 'from jupyter_client.kernelspec import find_kernel_specs; import sys; ' +
    'sys.exit(0 if "tslab" in find_kernel_specs() else 1)';
  const hasKernel = spawnSync(python, ['-c', findTslab], { env }).status === 0;
  if (!hasKernel) console.log(`registered the tslab kernel: ${installTslabKernel({ root, python, env })}`);
  if (!fs.existsSync(path.join(root, 'dist', 'src', 'run', 'child.js'))) {
    throw new Error('Expected the compiled kit in dist/: run npm run build');
  }
  if (args.fresh) fs.rmSync(path.join(root, 'runs', `notebooks-${mode}`), { recursive: true, force: true });
  const out = path.resolve(root, args.out ?? path.join('runs', 'notebooks', mode));
  fs.mkdirSync(out, { recursive: true });
  const notebooks = listNotebooks(path.join(root, 'notebooks'), args.only);
  if (notebooks.length === 0) {
    throw new Error(`Expected notebooks matching ${args.only.join(', ') || 'NN-*.ipynb'} in notebooks/, but found none`);
  }
  const timeout = args.timeout ?? (args.full ? -1 : 900);
  const results: Array<{ name: string; ok: boolean; seconds: number }> = [];
  const start = Date.now();
  for (const name of notebooks) {
    console.log(`\n=== ${name} (${mode}) ===`);
    const t = Date.now();
    let ok = run('jupyter', ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=tslab',
      `--ExecutePreprocessor.timeout=${timeout}`, '--ExecutePreprocessor.startup_timeout=300',
      '--output-dir', out, path.join(root, 'notebooks', name)], env, root) === 0;
    if (ok && args.html) ok = run('jupyter', ['nbconvert', '--to', 'html', '--output-dir', out, path.join(out, name)], env, root) === 0;
    results.push({ name, ok, seconds: (Date.now() - t) / 1000 });
    const slow = ok ? slowestCells(path.join(out, name)) : '';
    console.log(`=== ${name}: ${ok ? 'ok' : 'FAILED'} in ${((Date.now() - t) / 1000).toFixed(0)} s${slow ? ` (slowest: ${slow})` : ''}`);
  }
  console.log(`\nnotebooks (${mode}), executed copies in ${path.relative(root, out) || '.'}:`);
  for (const r of results) console.log(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.name.padEnd(32)} ${r.seconds.toFixed(0).padStart(5)} s`);
  console.log(`  total ${((Date.now() - start) / 1000).toFixed(0)} s`);
  if (results.some((r) => !r.ok)) process.exit(1);
}

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(`notebooks: ${(e as Error).message}`);
    process.exit(1);
  }
}
