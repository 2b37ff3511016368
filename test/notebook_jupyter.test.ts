/**
 * `npm run jupyter` (src/notebook/jupyter.ts): the tslab kernel is registered with the absolute path of this
 * checkout's tslab, and Jupyter starts it with node_modules/.bin off PATH (a bare `tslab` failed there).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from '../src/notebook/env';
import { skipUnless } from './optional';

const ROOT = repoRoot(__dirname);

test('npm run jupyter registers a kernel.json whose argv[0] is this checkout\'s tslab, and that kernel runs a cell',
     { skip: skipUnless('jupyter') }, () => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-kernel-'));
  const r = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'src', 'notebook', 'jupyter.js'), '--install-only', '--prefix', prefix],
                      { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const kernel = path.join(prefix, 'share', 'jupyter', 'kernels', 'tslab', 'kernel.json');
  const argv = (JSON.parse(fs.readFileSync(kernel, 'utf8')) as { argv: string[] }).argv;
  assert.ok(path.isAbsolute(argv[0]) && fs.existsSync(argv[0]), `argv[0] ${argv[0]}`);
  assert.equal(argv[0], path.join(ROOT, 'node_modules', '.bin', 'tslab'));

  const nbFile = path.join(prefix, 'one-cell.ipynb');
  fs.writeFileSync(nbFile, JSON.stringify({
    nbformat: 4, nbformat_minor: 5, metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    cells: [{ cell_type: 'code', id: 'c1', metadata: {}, execution_count: null, outputs: [], source: 'console.log(6 * 7);' }],
  }));
  const PATH = (process.env.PATH ?? '').split(path.delimiter).filter((p) => !p.includes('node_modules')).join(path.delimiter);
  const run = spawnSync('jupyter', ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=tslab',
                                    '--ExecutePreprocessor.startup_timeout=120', '--output-dir', prefix, '--output', 'executed', nbFile],
                        { encoding: 'utf8', env: { ...process.env, PATH, JUPYTER_PATH: path.join(prefix, 'share', 'jupyter') } });
  assert.equal(run.status, 0, run.stderr.slice(-2000));
  const out = JSON.stringify(JSON.parse(fs.readFileSync(path.join(prefix, 'executed.ipynb'), 'utf8')));
  assert.match(out, /42/);
});

test('a copied notebook whose parameter cell changes lrG trains a new run with that value', { skip: skipUnless('jupyter') }, () => {
  // The copy sits beside a link to dist/, so that its `../dist/src/...` imports resolve to this checkout's kit.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-copy-'));
  fs.symlinkSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'));
  fs.mkdirSync(path.join(dir, 'notebooks'));
  const book = JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', '01-quickstart.ipynb'), 'utf8')) as
    { cells: Array<{ source: string[] }> };
  const lrG = 3.21e-4;
  const params = book.cells[1].source.join('');
  assert.match(params, /const CHANGES: RunChanges = \{\};/);
  const edited = `const CHANGES: RunChanges = { steps: 2, overrides: { lrG: ${lrG} } };`;
  book.cells[1].source = [params.replace('const CHANGES: RunChanges = {};', edited)];
  const copy = path.join(dir, 'notebooks', '01-copy.ipynb');
  const withBin = `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`;
  fs.writeFileSync(copy, JSON.stringify(book));
  const run = spawnSync('jupyter', ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=tslab',
                                    '--ExecutePreprocessor.timeout=600', '--output-dir', dir, '--output', 'executed', copy],
                        { encoding: 'utf8', env: { ...process.env, BIGBIGAN_QUICK: '1', PATH: withBin } });
  assert.equal(run.status, 0, run.stderr.slice(-2000));
  const out = JSON.stringify(JSON.parse(fs.readFileSync(path.join(dir, 'executed.ipynb'), 'utf8')));
  const folder = /trained 2 steps in (\S+) \(/.exec(out)?.[1];
  assert.ok(folder, 'the notebook says it trained 2 steps');
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8')) as { lrG: number; steps: number };
    assert.deepEqual([cfg.lrG, cfg.steps], [lrG, 2]);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});
