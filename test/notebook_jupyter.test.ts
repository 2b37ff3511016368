/**
 * `npm run jupyter` (src/notebook/jupyter.ts): the tslab kernel is registered with the absolute path of this
 * checkout's tslab, and Jupyter starts it with node_modules/.bin off PATH (a bare `tslab` failed there). Then edited
 * copies of notebooks, executed headless: 01 with a changed parameter trains a new run; a reduced 02 that runs its
 * Base section twice counts Base once in the summary.
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

interface Cell { cell_type: string; source: string[] | string; outputs?: Array<{ text?: string[]; data?: Record<string, string[]> }> }
interface Notebook { cells: Cell[] }

const readNotebook = (name: string) => JSON.parse(fs.readFileSync(path.join(ROOT, 'notebooks', name), 'utf8')) as Notebook;
const sourceOf = (cell: Cell) => (Array.isArray(cell.source) ? cell.source.join('') : cell.source);

/**
 * Executes `book` headless as a copy in a fresh folder beside a link to dist/, so that its `../dist/src/...` imports
 * resolve to this checkout's kit (and its runs to this checkout's runs/, where they are reused); returns the executed notebook.
 */
function executeCopy(book: Notebook, env: NodeJS.ProcessEnv): Notebook {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-copy-'));
  fs.symlinkSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'));
  fs.mkdirSync(path.join(dir, 'notebooks'));
  const copy = path.join(dir, 'notebooks', 'copy.ipynb');
  fs.writeFileSync(copy, JSON.stringify(book));
  const withBin = `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH ?? ''}`;
  const run = spawnSync('jupyter', ['nbconvert', '--to', 'notebook', '--execute', '--ExecutePreprocessor.kernel_name=tslab',
                                    '--ExecutePreprocessor.timeout=600', '--output-dir', dir, '--output', 'executed', copy],
                        { encoding: 'utf8', env: { ...process.env, ...env, PATH: withBin } });
  try {
    assert.equal(run.status, 0, run.stderr.slice(-2000));
    return JSON.parse(fs.readFileSync(path.join(dir, 'executed.ipynb'), 'utf8')) as Notebook;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test('a copied notebook whose parameter cell changes lrG trains a new run with that value', { skip: skipUnless('jupyter') }, () => {
  const book = readNotebook('01-quickstart.ipynb');
  const lrG = 3.21e-4;
  const params = sourceOf(book.cells[1]);
  assert.match(params, /const CHANGES: RunChanges = \{\};/);
  const edited = `const CHANGES: RunChanges = { steps: 2, overrides: { lrG: ${lrG} } };`;
  book.cells[1].source = [params.replace('const CHANGES: RunChanges = {};', edited)];
  const out = JSON.stringify(executeCopy(book, { BIGBIGAN_QUICK: '1' }));
  const folder = /trained 2 steps in (\S+) \(/.exec(out)?.[1];
  assert.ok(folder, 'the notebook says it trained 2 steps');
  try {
    const cfg = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8')) as { lrG: number; steps: number };
    assert.deepEqual([cfg.lrG, cfg.steps], [lrG, 2]);
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

/** The header and body cells of the first HTML table in `html` whose caption matches `caption` (tags stripped). */
function tableCells(html: string, caption: RegExp): { head: string[]; rows: string[][] } {
  const table = html.split('<table').find((t) => caption.test(t));
  assert.ok(table, `a table captioned ${caption}`);
  const cells = (row: string, tag: string) => [...row.matchAll(new RegExp(`<${tag}[^>]*>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1]);
  const [head, ...rows] = [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1]);
  return { head: cells(head, 'th'), rows: rows.map((r) => cells(r, 'td')) };
}

test('notebook 02: running the Base section twice, the summary counts Base once with one seed\'s figures, pixels beside them',
     { skip: skipUnless('jupyter') }, () => {
  // A reduced 02: its parameter and setup cells, the Base section cell twice, the summary cell (quick mode: 12 steps, seed 0).
  const book = readNotebook('02-ablations.ipynb');
  const code = book.cells.filter((c) => c.cell_type === 'code');
  const baseCell = code.find((c) => sourceOf(c).startsWith("await section('base'"));
  const summaryCell = code.find((c) => sourceOf(c).includes('nb.summaryRecords('));
  assert.ok(baseCell && summaryCell, 'the Base section and summary cells of 02');
  book.cells = [code[0], code[1], baseCell, baseCell, summaryCell];
  const executed = executeCopy(book, { BIGBIGAN_QUICK: '1', BIGBIGAN_ABLATIONS_SOURCE: 'train' });
  const texts = executed.cells.map((c) => JSON.stringify(c.outputs ?? []));
  assert.match(texts[3], /seed 0: reused /, 'the second Base cell ran and reused the first one\'s run');
  const html = (executed.cells[4].outputs ?? []).map((o) => (o.data?.['text/html'] ?? []).join('')).join('');
  const { head, rows } = tableCells(html, /mnist ablations: 1 rows, 1 runs/);
  assert.equal(rows.length, 1);
  const at = (column: string) => rows[0][head.indexOf(column)];
  assert.deepEqual([at('row'), at('seeds')], ['base', '1']);
  for (const column of ['probe top-1 %', 'probe top-1 pixels %', '1-NN %', '1-NN pixels %']) {
    assert.match(at(column), /^\d+\.\d$/, `${column}: one seed's figure (empty: not measured; with ±: the rerun counted twice)`);
  }
});
