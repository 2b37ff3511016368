/**
 * The training path (dist/src/cli.js with run/train_run.js, train/bench.js, the model and the
 * evaluation) must not load the notebook-only libraries: danfojs and plotly
 * are large, and the air-gapped GPU bundle (scripts/pack-gpu.sh) leaves them
 * out, as it leaves out tslab and the native sharp (loaded only when an image
 * folder is read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';

const DIST_SRC = path.join(__dirname, '..', 'src');

/** The npm packages (names) and kit modules a fresh Node loads when it requires `files` from dist/src. */
function loadedBy(files: string[]): { packages: string[]; kit: string[] } {
  const script = `
    for (const f of ${JSON.stringify(files.map((f) => path.join(DIST_SRC, f)))}) require(f);
    const packages = new Set(), kit = [];
    for (const k of Object.keys(require.cache)) {
      const m = k.match(/node_modules[\\\\/]((?:@[^\\\\/]+[\\\\/])?[^\\\\/]+)/);
      if (m) packages.add(m[1].replace(/\\\\/g, '/'));
      else kit.push(k);
    }
    console.log(JSON.stringify({ packages: [...packages].sort(), kit }));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const why = r.stderr.split('\n').filter((l) => /Error|error/.test(l)).slice(0, 3).join(' | ').slice(0, 500);
  assert.equal(r.status, 0, `Expected the modules to load, but got exit code ${r.status}: ${why}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const NOTEBOOK_ONLY = /^(danfojs|danfojs-node|plotly\.js.*|plotly|tslab|sharp)$/;

test('cli.js, run/train_run.js and train/bench.js load no notebook-only library (danfojs, plotly, tslab) nor sharp', (t) => {
  const { packages, kit } = loadedBy(['cli.js', 'run/train_run.js', 'train/bench.js']);
  t.diagnostic(`packages loaded: ${packages.join(' ')}`);
  const bad = packages.filter((p) => NOTEBOOK_ONLY.test(p) || /danfo|plotly/i.test(p));
  assert.deepEqual(bad, [], `Expected no notebook-only package on the training path, but got ${bad.join(', ')}`);
  const notebookModules = kit.filter((k) => /[\\/]notebook[\\/]/.test(k));
  assert.deepEqual(notebookModules, [], `Expected no module of src/notebook on the training path, but got ${notebookModules.join(', ')}`);
  assert.ok(packages.includes('@tensorflow/tfjs-core'), `Expected the check to see tfjs loaded, but got ${packages.join(' ')}`);
});

test('the check sees a notebook library when one is loaded', () => {
  // (plotly's bundle needs a browser: its package.json stands in for it)
  const { packages } = loadedBy([path.join('..', '..', 'node_modules', 'plotly.js-dist-min', 'package.json')]);
  assert.ok(packages.includes('plotly.js-dist-min'), `Expected plotly.js-dist-min among ${packages.join(' ')}`);
});
