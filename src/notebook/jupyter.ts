/**
 * `npm run jupyter [-- options]`: registers the tslab (TypeScript) kernel
 * with the absolute path of this checkout's node_modules/.bin/tslab (a bare
 * `tslab` in kernel.json fails with FileNotFoundError when Jupyter starts
 * outside npm, where node_modules/.bin is not on PATH), then starts Jupyter
 * on notebooks/ (JupyterLab when it is installed, else the classic notebook).
 *
 *   --install-only   register the kernel and print its kernel.json; do not start Jupyter
 *   --prefix DIR     register it under DIR/share/jupyter/kernels/ (default: the user's, or the system's for root)
 *   --classic        the classic notebook even when JupyterLab is installed
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from './env';

const USAGE = 'usage: npm run jupyter -- [--install-only] [--prefix DIR] [--classic]';

/** The Python that runs jupyter (its #! line), for kernel registration; $PYTHON overrides. */
export function jupyterPython(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PYTHON) return env.PYTHON;
  const which = spawnSync('sh', ['-c', 'command -v jupyter-nbconvert || command -v jupyter'], { env, encoding: 'utf8' }).stdout.trim();
  const first = which ? fs.readFileSync(which, 'utf8').split('\n')[0] : '';
  const m = /^#!\s*(\S+python[\d.]*)\s*$/.exec(first);
  return m ? m[1] : fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** Whether `jupyter <sub> --version` runs (sub '' : jupyter itself). */
export function hasJupyter(sub = '', env: NodeJS.ProcessEnv = process.env): boolean {
  return spawnSync('jupyter', [sub, '--version'].filter(Boolean), { env, stdio: 'ignore' }).status === 0;
}

/**
 * Registers the tslab kernel for `python` with this checkout's tslab binary by absolute path
 * (`tslab install --binary ABS --python PY [--prefix DIR]`) and returns the kernel.json written,
 * checked: its argv[0] is that absolute, existing file.
 */
export function installTslabKernel(opts: { root?: string; python?: string; prefix?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const root = opts.root ?? repoRoot();
  const env = opts.env ?? process.env;
  const binary = path.join(root, 'node_modules', '.bin', 'tslab');
  if (!fs.existsSync(binary)) throw new Error(`Expected the tslab kernel at ${binary}, but it is missing: run npm install`);
  const python = opts.python ?? jupyterPython(env);
  const args = ['install', `--binary=${binary}`, `--python=${python}`, ...(opts.prefix ? [`--prefix=${path.resolve(opts.prefix)}`] : [])];
  const r = spawnSync(binary, args, { env, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`Expected \`tslab ${args.join(' ')}\` to register the kernel, but it failed:\n${(r.stderr || r.stdout || '').trim()}`);
  }
  const search = opts.prefix ? { ...env, JUPYTER_PATH: path.join(path.resolve(opts.prefix), 'share', 'jupyter') } : env;
  const find = 'from jupyter_client.kernelspec import KernelSpecManager; print(KernelSpecManager().get_kernel_spec("tslab").resource_dir)';
  const dir = spawnSync(python, ['-c', find], { env: search, encoding: 'utf8' }).stdout.trim();
  const file = path.join(dir, 'kernel.json');
  const argv0 = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as { argv: string[] }).argv[0] : null;
  if (argv0 !== binary) {
    const found = dir ? `${file} starts ${String(argv0)}` : 'Jupyter finds none';
    throw new Error(`Expected the tslab kernel.json to start ${binary}, but ${found}`);
  }
  return file;
}

function main(argv: string[]): void {
  const installOnly = argv.includes('--install-only'), classic = argv.includes('--classic');
  const at = argv.indexOf('--prefix');
  const prefix = at >= 0 ? argv[at + 1] : undefined;
  const unknown = argv.filter((a, i) => !['--install-only', '--classic', '--prefix'].includes(a) && !(at >= 0 && i === at + 1));
  if (unknown.length > 0 || (at >= 0 && prefix === undefined)) throw new Error(`Expected options, but got ${argv.join(' ')}\n${USAGE}`);
  if (!hasJupyter()) {
    throw new Error('Expected Jupyter, but `jupyter` does not run. Install it: on Debian `apt-get install -y jupyter-notebook ' +
                    'python3-ipykernel`, elsewhere `pip install notebook`');
  }
  const root = repoRoot();
  const kernel = installTslabKernel({ root, prefix });
  console.log(`tslab kernel registered: ${kernel}`);
  if (installOnly) return;
  const app = !classic && hasJupyter('lab') ? 'lab' : 'notebook';
  console.log(`starting jupyter ${app} on notebooks/ (pick the TypeScript kernel; each notebook's first cell says its mode)`);
  const r = spawnSync('jupyter', [app, `--notebook-dir=${path.join(root, 'notebooks')}`], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error(`jupyter: ${(e as Error).message}`);
    process.exit(1);
  }
}
