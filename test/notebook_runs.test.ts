/**
 * A notebook's run (src/notebook/runs.ts ensureRun) trains through the kit's one child-process launcher
 * (src/run/child.ts, the sweep's too): trained, reused, resumed, a shorter ask trained beside a longer run,
 * and a failing child surfacing as one error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import childProcess = require('child_process');  // the module object itself, so that the test can record its calls
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as nb from '../src/notebook';

/** A 16x16 model that trains a step in well under a second (as test/sweep_fixture.ts TINY). */
const TINY = { zDim: 6, gCh: 4, gMults: [2, 2, 1], gAttention: 8, resolution: 16, eResolution: 16, eCh: 4, eMlp: 16, dCh: 8,
               dMults: [1, 2], dAttention: 8, dMlp: 16, batchSize: 8, emaStart: 1, evalEvery: 0, diagEvery: 0, sampleEvery: 2 };

describe('notebook runs through the shared launcher', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'nb-runs-'));
  const spec: nb.RunSpec = { preset: 'mnist', steps: 3, overrides: TINY, data: { limit: 200 } };
  const forks: string[][] = [];
  const spawned: string[] = [];
  const originals = { fork: childProcess.fork, spawn: childProcess.spawn };
  before(() => {
    // Record every child the notebook path starts (the compiled modules read these functions off the module at call time).
    (childProcess as { fork: unknown }).fork = (entry: string, args: string[], ...rest: unknown[]) => {
      forks.push([entry, ...args]);
      return (originals.fork as (...a: unknown[]) => unknown)(entry, args, ...rest);
    };
    (childProcess as { spawn: unknown }).spawn = (cmd: string, ...rest: unknown[]) => {
      spawned.push(cmd);
      return (originals.spawn as (...a: unknown[]) => unknown)(cmd, ...rest);
    };
  });
  after(() => { Object.assign(childProcess, originals); });

  test('trained in a child forked by run/child.ts, then reused, resumed, and a shorter ask trained beside', async () => {
    const updates: number[] = [];
    const first = await nb.ensureRun(root, spec, { pollMs: 0, onUpdate: (m) => updates.push(m.train.length) });
    assert.equal(first.action, 'trained');
    assert.equal(first.step, 3);
    assert.equal(first.out, nb.runFolder(root, spec));
    assert.equal(forks.length, 1);
    assert.equal(path.relative(path.join(__dirname, '..'), forks[0][0]), path.join('src', 'run', 'child.js'));
    assert.deepEqual(forks[0].slice(1), ['--bigbigan-child']);
    assert.deepEqual(spawned, []);
    assert.ok(updates.length >= 1 && updates[updates.length - 1] === 3, `updates ${JSON.stringify(updates)}`);
    assert.equal((JSON.parse(fs.readFileSync(path.join(first.out, nb.RUN_KEY_FILE), 'utf8')) as { steps: number }).steps, 3);

    const again = await nb.ensureRun(root, spec);
    assert.equal(again.action, 'reused');
    assert.match(again.story, /^reused .*: the same config, data \{"limit":200\}, evaluation settings and 3 steps$/);
    assert.equal(forks.length, 1);

    const longer = await nb.ensureRun(root, { ...spec, steps: 5 });
    assert.deepEqual([longer.action, longer.step, longer.out], ['resumed', 5, first.out]);
    assert.match(longer.story, /^resumed from step 3 to 5 steps/);

    const shorter = await nb.ensureRun(root, { ...spec, steps: 4 });
    assert.deepEqual([shorter.action, shorter.step, shorter.out], ['trained', 4, `${first.out}-steps4`]);
    assert.match(shorter.story, /holds 5 steps, more than the 4 asked/);
    assert.equal(nb.checkpointStep(first.out), 5, 'the longer run is left as it was');
    assert.equal(forks.length, 3);
  });

  test("a failing child is one error naming the run folder and the child's message", async () => {
    const bad: nb.RunSpec = { ...spec, overrides: { ...TINY, dataPath: path.join(root, 'no-such-mnist') } };
    await assert.rejects(nb.ensureRun(root, bad), (e: Error) => {
      assert.equal(e.message, `Training ${nb.runFolder(root, bad)} failed: Expected the mnist directory at ` +
                              `${path.join(root, 'no-such-mnist')}, but the path does not exist`);
      return true;
    });
  });
});
