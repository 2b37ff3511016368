/** The notebooks' helpers (src/notebook/) and the notebooks' own shape (one parameter cell, no outputs committed). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { loadDataset, makeSplit } from '../src/data';
import { syncReadsDuring } from './kernels_used';
import { resolveConfig } from '../src/presets';
import { QUICK_EVAL } from '../src/eval/evaluate';
import * as nb from '../src/notebook';
import { cellSeconds, listNotebooks, parseArgs } from '../src/notebook/run_notebooks';
import { useBackend } from './use_backend';

const ROOT = nb.repoRoot(__dirname);

describe('notebook helpers: metrics.jsonl', () => {
  const text = [
    JSON.stringify({ step: 1, L_D: 2, L_EG: 1, backend: 'wasm', time: '2026-01-01T00:00:00.000Z' }),
    JSON.stringify({ step: 2, L_D: 1.5, L_EG: 1.2, backend: 'wasm', time: '2026-01-01T00:00:03.000Z' }),
    JSON.stringify({ step: 2, kind: 'eval', fid: 80.5, is: 1.9, probe_top1: null, knn1: 0.4 }),
    JSON.stringify({ step: 2, kind: 'diag', e_snr: 0.5, latent_recovery: 0.25 }),
    '{"step": 3, "L_D": 1.',  // a line still being written
  ].join('\n');

  test('train, eval and diag lines are split, a partial last line is skipped', () => {
    const m = nb.parseMetrics(text);
    assert.deepEqual(m.train.map((r) => r.step), [1, 2]);
    assert.deepEqual(m.eval.map((r) => r.fid), [80.5]);
    assert.deepEqual(m.diag.map((r) => r.latent_recovery), [0.25]);
    assert.equal(nb.lastEval(m)?.knn1, 0.4);
    assert.equal(nb.wallSeconds(m), 3);
  });

  test('series: one per key present, null where missing, keys no row has left out, smoothing', () => {
    const m = nb.parseMetrics(text);
    const s = nb.metricSeries(m.train, ['L_D', 'nothing'], { names: { L_D: 'D loss' } });
    assert.deepEqual(s.map((x) => x.name), ['D loss']);
    assert.deepEqual(s[0].x, [1, 2]);
    assert.deepEqual(s[0].y, [2, 1.5]);
    const e = nb.metricSeries(m.eval, ['fid', 'probe_top1']);
    assert.deepEqual(e.map((x) => x.name), ['fid']);
    assert.deepEqual(nb.smooth([1, null, 3, NaN, 5], 0.5), [1, null, 2, null, 3.5]);
  });

  test('a run folder without metrics.jsonl reads as empty', () => {
    assert.deepEqual(nb.readMetrics(fs.mkdtempSync(path.join(os.tmpdir(), 'nb-'))), { train: [], eval: [], diag: [] });
  });
});

describe('notebook helpers: plotly offline', () => {
  test('the library is inlined, define hidden while it loads, and nothing is fetched from the network', () => {
    const html = nb.plotlyLibraryHtml();
    const lib = fs.readFileSync(nb.plotlyLibraryFile(), 'utf8');
    assert.ok(html.length > lib.length * 0.99, 'the whole library is inlined');
    assert.ok(html.includes(`plotly.js v${nb.plotlyVersion()}`));
    assert.ok(html.indexOf('window.define = undefined') < html.indexOf(lib.slice(0, 200)));
    assert.ok(html.lastIndexOf('window.define = window.__bigbiganDefine') > html.indexOf(lib.slice(-200)));
    assert.doesNotMatch(html, /<script[^>]*\bsrc\s*=/i);
  });

  test('a figure is a div and a newPlot call whose data cannot close the script', () => {
    const fig = nb.lineFigure([{ name: 'evil </script><script>alert(1)</script>', x: [1, 2], y: [NaN, 3] }], { title: 't' });
    const html = nb.plotlyFigureHtml(fig, { id: 'p1', height: 200 });
    assert.match(html, /^<div id="p1" style="width:100%;height:200px"><\/div>/);
    assert.ok(html.includes('Plotly.newPlot'));
    assert.equal((html.match(/<\/script>/g) ?? []).length, 1, 'only the closing tag of the figure script');
    assert.ok(html.includes('"y":[null,3]'), 'NaN becomes a gap');
    assert.doesNotMatch(html, /https?:\/\/[^"']*\.js/);
  });

  test('bars carry error bars only where given', () => {
    const f = nb.barFigure(['a', 'b'], [{ name: 'm', y: [1, 2], error: [0.1, null] }, { name: 'n', y: [3, null] }]);
    assert.deepEqual((f.data[0].error_y as { array: number[] }).array, [0.1, 0]);
    assert.equal(f.data[1].error_y, undefined);
  });
});

describe('notebook helpers: danfo tables', () => {
  test('rows become a DataFrame with the given columns; HTML shows numbers, blanks for null and escapes text', () => {
    const df = nb.dataFrame([{ row: 'base', FID: 12.3456, n: 3 }, { row: '<b>x</b>', FID: null }], ['row', 'FID', 'n']);
    assert.deepEqual(df.columns, ['row', 'FID', 'n']);
    assert.deepEqual(df.shape, [2, 3]);
    const html = nb.dataFrameHtml(df, { caption: 'c', digits: 2 });
    assert.ok(html.includes('<caption'));
    assert.ok(html.includes('>12.35</td>'));
    assert.ok(html.includes('>3</td>'));
    assert.ok(html.includes('&lt;b&gt;x&lt;/b&gt;'));
    assert.equal((html.match(/<tr>/g) ?? []).length, 3);
    assert.ok(nb.tableHtml([{ a: 0.5 }], { format: { a: nb.percent } }).includes('>50.0%</td>'));
    assert.ok(nb.tableHtml([]).includes('<table'));
  });
});

describe('notebook helpers: ablations', () => {
  test('configDiff lists exactly the changed keys', () => {
    const d = nb.configDiff(resolveConfig('mnist'), resolveConfig('mnist', 'deterministic-e'));
    assert.deepEqual(d, [{ key: 'eStochastic', base: true, value: false }]);
    assert.equal(nb.configDiff(resolveConfig('mnist'), resolveConfig('mnist')).length, 0);
    assert.match(nb.configDiffText(d), /^- eStochastic: true\n\+ eStochastic: false$/);
    assert.ok(nb.configDiffHtml(d).startsWith('<pre'));
  });

  test('CSV: quotes, doubled quotes, embedded commas and CRLF', () => {
    const rows = nb.parseCsv('row,note\r\nbase,"a, ""b"""\r\n\r\nsmall-e,\n');
    assert.deepEqual(rows, [{ row: 'base', note: 'a, "b"' }, { row: 'small-e', note: '' }]);
  });

  test('a results table (csv or json) is read, summarised over seeds and written back in the same columns', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-results-'));
    const csv = [nb.RESULT_COLUMNS.join(','),
      'base,0,400,2.0,50,0.80,0.95,0.70,0.5,100', 'base,1,400,2.2,40,0.90,0.97,0.80,0.6,110',
      'no-e,0,400,2.1,45,,,,,90'].join('\n');
    fs.writeFileSync(path.join(dir, 'mnist-ablations.csv'), csv);
    const rows = nb.readResultsTable(path.join(dir, 'mnist-ablations.csv'))!;
    assert.equal(rows.length, 3);
    assert.equal(rows[2].probe_top1, null);
    assert.equal(nb.readResultsTable(path.join(dir, 'missing.csv')), null);
    fs.writeFileSync(path.join(dir, 'r.json'), JSON.stringify({ rows }));
    assert.deepEqual(nb.readResultsTable(path.join(dir, 'r.json')), rows);
    assert.deepEqual(nb.toResultRows(nb.parseCsv(nb.resultsCsv(rows))), rows);

    const [base, noE] = nb.summarizeResults(rows);
    assert.equal(base.seeds, 2);
    assert.ok(Math.abs(base.mean.FID! - 45) < 1e-9);
    assert.ok(Math.abs(base.std.FID! - Math.sqrt(50)) < 1e-9);
    assert.equal(noE.std.FID, null);
    assert.equal(nb.meanStd(base, 'probe_top1', 1, 100), '85.0 ± 7.1');
    assert.equal(nb.meanStd(noE, 'FID', 1), '45.0');
    assert.equal(nb.directionVsBase(base, base), 'reference row');
    assert.equal(nb.directionVsBase(noE, base), 'FID similar, IS similar; no representation');
    assert.throws(() => nb.toResultRows([{ seed: 1 }], 'x.csv'), /Expected a 'row' name in line 1 of x.csv/);
  });

  test('a result row comes from the last evaluation line of a run', () => {
    const m = nb.parseMetrics([
      JSON.stringify({ step: 20, L_D: 1, time: '2026-01-01T00:00:00Z' }),
      JSON.stringify({ step: 40, L_D: 1, time: '2026-01-01T00:01:00Z' }),
      JSON.stringify({ step: 20, kind: 'eval', fid: 9, is: 1 }),
      JSON.stringify({
        step: 40, kind: 'eval', fid: 7, is: 2, probe_top1: 0.5, knn1: 0.4, class_consistency: 0.3, probe_top1_random_init: 0.45,
        probe_top1_pixels: 0.8,
      }),
    ].join('\n'));
    assert.deepEqual(nb.resultFromMetrics('base', 0, m), {
      row: 'base', seed: 0, steps: 40, IS: 2, FID: 7, probe_top1: 0.5, probe_top5: null, knn1: 0.4, class_consistency: 0.3, wall_s: 60,
      probe_top1_random_init: 0.45, knn1_random_init: null, probe_top1_pixels: 0.8, knn1_pixels: null,
    });
  });
});

describe('notebook helpers: runs', () => {
  const spec: nb.RunSpec = { preset: 'mnist', steps: 10, overrides: { gCh: 4, evalEvery: 5 }, data: { limit: 100 } };
  test('a run folder is keyed by config, data and evaluation settings; steps and checkpoint bookkeeping do not count', () => {
    const a = nb.runFolder('/r', spec);
    assert.match(a, /^\/r\/mnist-base-s0-[0-9a-f]{8}$/);
    assert.equal(nb.runFolder('/r', { ...spec, steps: 99, overrides: { ...spec.overrides, checkpointEvery: 3, keepCheckpoints: 1 } }), a);
    const changes = [{ gCh: 8 }, { gCh: 4, evalEvery: 50 }, { gCh: 4, evalEvery: 5, sampleEvery: 2 },
                     { gCh: 4, evalEvery: 5, diagEvery: 7 }];
    for (const changed of changes) {
      assert.notEqual(nb.runFolder('/r', { ...spec, overrides: changed }), a, JSON.stringify(changed));
    }
    assert.notEqual(nb.runFolder('/r', { ...spec, data: { limit: 200 } }), a);
    const evaluation = { settings: { ...QUICK_EVAL, baselines: false } };
    assert.notEqual(nb.runFolder('/r', { ...spec, evaluation }), a);
    assert.notEqual(nb.runFolder('/r', { ...spec, evaluation: { settings: { ...QUICK_EVAL, baselines: true } } }),
                    nb.runFolder('/r', { ...spec, evaluation }));
    assert.equal(nb.runFolder('/r', { ...spec, evaluation: { ...evaluation, cacheDir: '/elsewhere' } }),
                 nb.runFolder('/r', { ...spec, evaluation }));
    assert.notEqual(nb.runFolder('/r', { ...spec, ablation: 'no-e' }), nb.runFolder('/r', spec).replace('base', 'no-e'));
  });

  test('runConfig applies preset, ablation, overrides (validated as --set is: test/config_check.test.ts)', () => {
    const cfg = nb.runConfig({ ...spec, ablation: 'deterministic-e', seed: 3 });
    assert.deepEqual([cfg.eStochastic, cfg.gCh, cfg.steps, cfg.seed], [false, 4, 10, 3]);
    assert.throws(() => nb.runConfig({ ...spec, overrides: { gch: 4 } as never }), /Expected a config key .* but got 'gch'/);
  });

  test('quick mode is BIGBIGAN_QUICK=1', () => {
    assert.equal(nb.quickMode({ BIGBIGAN_QUICK: '1' }), true);
    assert.equal(nb.quickMode({ BIGBIGAN_QUICK: '0' }), false);
    assert.equal(nb.quickMode({}), false);
  });
});

describe('notebook helpers: images and latents', () => {
  test('upscale replicates pixels; gridPng enlarges the grid', async () => {
    assert.deepEqual([...nb.upscale(Uint8Array.from([1, 2, 3, 4]), 2, 2, 1, 2)], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    assert.deepEqual([...nb.upscale(Uint8Array.from([1, 2, 3, 4, 5, 6]), 2, 1, 3, 2)],
                     [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    await tf.setBackend('cpu');
    const png = await nb.gridPng(tf.zeros([4, 3, 3, 1]) as tf.Tensor4D, 2, { scale: 3 });
    const b = Buffer.from(png);
    assert.deepEqual([b.readUInt32BE(16), b.readUInt32BE(20)], [21, 21]);  // (2·3 + 1) · 3
  });

  test('firstOfEachClass goes round-robin over classes', () => {
    const split = makeSplit('t', new Uint8Array(6), Int32Array.from([1, 0, 1, 0, 2, 1]), 1, 1, 1);
    assert.deepEqual(nb.firstOfEachClass(split, 3, 2), [1, 0, 4, 3, 2]);
  });

  test('writeImageFolder writes an ImageNet-style folder that loadDataset reads back', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-folder-'));
    const images = Uint8Array.from({ length: 8 * 4 * 4 }, (_, i) => (i * 13) % 256);
    const split = makeSplit('test', images, Int32Array.from([0, 1, 0, 1, 0, 1, 0, 1]), 4, 4, 1);
    assert.equal(nb.writeImageFolder(root, split, 3, ['zero', 'one']), 6);
    assert.deepEqual(fs.readdirSync(root).sort(), ['one', 'zero']);
    const ds = await loadDataset('imagefolder', { path: root, resolution: 4, channels: 1, testSize: 2, trainValSize: 1 });
    assert.equal(ds.numClasses, 2);
    assert.equal(ds.train.count + ds.trainVal.count + ds.test.count, 6);
    const first = path.join(root, 'zero', fs.readdirSync(path.join(root, 'zero')).sort()[0]);
    assert.deepEqual([...nb.readPng(first).subarray(1, 4)], [0x50, 0x4e, 0x47]);  // "PNG"
  });

  test('interpolations start and end at the endpoints; slerp keeps the norm of equal-norm ends', () => {
    useBackend('cpu');
    const zA = tf.tensor2d([[1, 0], [2, 0]]), zB = tf.tensor2d([[0, 1], [-2, 0]]);
    for (const mode of ['lerp', 'slerp'] as const) {
      const z = nb.interpolateLatents(zA, zB, 5, mode).arraySync();
      assert.equal(z.length, 10);
      for (const [got, want] of [[z[0], [1, 0]], [z[4], [0, 1]], [z[5], [2, 0]], [z[9], [-2, 0]]]) {
        got.forEach((v, j) => assert.ok(Math.abs(v - want[j]) < 1e-5, `${mode}: ${got} vs ${want}`));
      }
      if (mode === 'slerp') assert.ok(Math.abs(Math.hypot(...z[2]) - 1) < 1e-5);
      else assert.ok(Math.abs(Math.hypot(...z[2]) - Math.SQRT1_2) < 1e-5);
    }
    assert.throws(() => nb.interpolateLatents(zA, tf.zeros([3, 2]) as tf.Tensor2D, 4), /one shape/);
  });

  test('cosine neighbours: most similar first', async () => {
    await tf.setBackend('cpu');
    const train = { data: Float32Array.from([1, 0, 0, 1, 1, 1, -1, 0]), n: 4, d: 2 };
    const query = { data: Float32Array.from([2, 0.1]), n: 1, d: 2 };
    let found!: Awaited<ReturnType<typeof nb.cosineNeighbours>>;
    const reads = await syncReadsDuring(async () => { found = await nb.cosineNeighbours(train, query, 3); });
    assert.deepEqual([...reads.keys()], [], 'Expected no synchronous read (webgpu in Node cannot)');
    const { indices, similarities } = found;
    assert.deepEqual([...indices[0]], [0, 2, 1]);
    assert.ok(similarities[0][0] > 0.99);
  });
});

describe('notebook dependencies stay in src/notebook', () => {
  test('no file of the kit outside src/notebook imports danfojs-node, plotly or the notebook helpers', () => {
    // an import of danfojs-node, plotly or the notebook folder (static or require)
    const displayImport = /from ['"](danfojs-node|plotly\.js[^'"]*|\.\.?\/(\.\.\/)*notebook[^'"]*)['"]|require\(['"](danfojs-node|plotly)/;
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) { if (p !== path.join(ROOT, 'src', 'notebook')) walk(p); continue; }
        if (!e.name.endsWith('.ts')) continue;
        if (displayImport.test(fs.readFileSync(p, 'utf8'))) offenders.push(path.relative(ROOT, p));
      }
    };
    walk(path.join(ROOT, 'src'));
    assert.deepEqual(offenders, []);
  });
});

describe('notebooks', () => {
  const dir = path.join(ROOT, 'notebooks');
  const names = listNotebooks(dir);

  test('the runner finds the five notebooks in order and parses its options', () => {
    assert.deepEqual(names.map((n) => n.slice(0, 2)), ['01', '02', '03', '04', '05']);
    assert.deepEqual(listNotebooks(dir, ['03']), [names[2]]);
    assert.deepEqual(parseArgs(['--html', '--only', '01,02', '--full']),
                     { full: true, html: true, fresh: false, only: ['01', '02'], out: null, timeout: null });
    assert.throws(() => parseArgs(['--nope']), /Expected an option, but got '--nope'/);
    assert.deepEqual(cellSeconds({ cells: [
      { cell_type: 'markdown' },
      { cell_type: 'code', metadata: { execution: {
        'iopub.status.busy': '2026-01-01T00:00:00.000Z', 'iopub.status.idle': '2026-01-01T00:01:01.500Z',
      } } },
      { cell_type: 'code', metadata: {} },
    ] }), [61.5, 0]);
  });

  for (const name of names) {
    test(`${name}: tslab kernel, no outputs, one parameter cell first, imports the compiled kit, no CDN`, () => {
      const book = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as {
        metadata: { kernelspec: { name: string } };
        cells: Array<{
          cell_type: string; source: string[]; outputs?: unknown[]; execution_count?: number | null; metadata: { tags?: string[] };
        }>;
      };
      assert.equal(book.metadata.kernelspec.name, 'tslab');
      const code = book.cells.filter((c) => c.cell_type === 'code');
      for (const c of code) {
        assert.deepEqual(c.outputs, [], 'outputs are stripped');
        assert.equal(c.execution_count, null);
      }
      const params = code.filter((c) => c.metadata.tags?.includes('parameters'));
      assert.equal(params.length, 1);
      assert.equal(code[0], params[0], 'the parameter cell is the first code cell');
      assert.match(params[0].source.join(''), /BIGBIGAN_QUICK/);
      const all = book.cells.map((c) => c.source.join('')).join('\n');
      assert.match(all, /from '\.\.\/dist\/src\/notebook'/);
      assert.doesNotMatch(all, /<script[^>]*src=["']?https?:/i);
    });
  }
});
