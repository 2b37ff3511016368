/**
 * The import picture of src/ (scripts/imports.js): no import circle, no import against the layering
 * (util < backend < core < train < eval < run < sweep < index < notebook < cli), and the check itself
 * finds a circle and a layering violation where there is one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as path from 'path';

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'imports.js');
const { circles, layerOf } = require(SCRIPT) as {
  circles(graph: Map<string, Array<{ to: string }>>): string[][];
  layerOf(module: string): { rank: number; name: string };
};

test('src/ has no import circle and no import against the layering', () => {
  const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
  assert.equal(r.status, 0, `Expected scripts/imports.js to pass, but got exit code ${r.status}:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^0 circles, 0 imports against the layering$/m);
});

test('the check finds a circle, and only a circle', () => {
  const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges).map(([k, v]) => [k, v.map((to) => ({ to }))]));
  assert.deepEqual(circles(graph({ 'run/a': ['eval/b'], 'eval/b': ['eval/c'], 'eval/c': ['run/a'], 'util/d': [] })),
                   [['eval/b', 'eval/c', 'run/a']]);
  assert.deepEqual(circles(graph({ 'run/a': ['eval/b'], 'eval/b': ['util/d'], 'util/d': [] })), []);
});

test('the layers rank the research core below the sweep, the notebooks and the CLI', () => {
  const rank = (m: string) => layerOf(m).rank;
  assert.ok(rank('util/rng') < rank('backend/select') && rank('backend/select') < rank('model/bigbigan'));
  assert.ok(rank('model/bigbigan') === rank('config') && rank('config') < rank('train/steps'));
  assert.ok(rank('train/steps') < rank('eval/evaluate') && rank('eval/evaluate') < rank('run/train_run'));
  assert.ok(rank('run/train_run') < rank('sweep/plan') && rank('sweep/plan') < rank('notebook/runs')
            && rank('notebook/runs') < rank('cli'));
  assert.equal(layerOf('somewhere_new').name, 'unplaced');
});
