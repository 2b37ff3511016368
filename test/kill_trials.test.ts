/**
 * kill -9 at the worst moments (src/train/faults.ts) and at a random one, each followed by a resume as a
 * user would type it: the folder then equals that of an uninterrupted run file for file, the
 * checkpoints and pictures bit for bit, metrics.jsonl line for line (less its clock fields), and
 * nothing is left behind (no temporary file, no lock).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { cli, cliAsync, CliResult, ENV, metricsWithoutTimes, SMALL, snapshot } from './cli_fixture';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kill-'));
const train = (out: string, ...more: string[]) => ['train', '--steps', '4', ...SMALL, '--out', out, ...more];

/** Resumes as the messages say: --resume, or a fresh start where the run had not written its config yet. */
function resumeLikeAUser(out: string): CliResult {
  const r = cli(train(out, '--resume'));
  if (r.code === 1 && r.lines.some((l) => l.endsWith('start it without --resume'))) return cli(train(out));
  return r;
}

describe('kill -9 trials', () => {
  const whole = path.join(root, 'whole');
  let expected: Record<string, string>;
  before(() => {
    const r = cli(train(whole));
    assert.equal(r.code, 0, r.lines.join('\n'));
    expected = snapshot(whole)!;
    delete expected['metrics.jsonl'];
    assert.deepEqual(Object.keys(expected).sort(), ['ckpt-00000002.bin', 'ckpt-00000004.bin', 'config.json', 'recon-00000002.png',
                                                    'recon-00000004.png', 'samples-00000002.png', 'samples-00000004.png']);
  });

  /** The folder after the resume equals the uninterrupted run's. */
  function assertAsIfUninterrupted(out: string): void {
    const got = snapshot(out)!;
    delete got['metrics.jsonl'];
    assert.deepEqual(got, expected);
    assert.deepEqual(metricsWithoutTimes(out), metricsWithoutTimes(whole));
  }

  const faults: Array<[string, string, string[]]> = [
    ['step@1', 'after the first step, before its metrics line and any checkpoint', ['config.json']],
    ['checkpoint-rename@1', 'with the first checkpoint written and flushed, before its rename',
     ['config.json', 'metrics.jsonl', 'recon-00000002.png', 'samples-00000002.png']],
    ['metrics-append@3', 'half-way through the metrics line of step 3',
     ['ckpt-00000002.bin', 'config.json', 'metrics.jsonl', 'recon-00000002.png', 'samples-00000002.png']],
    ['checkpoint-write@2', 'half-way through writing the last checkpoint',
     ['ckpt-00000002.bin', 'config.json', 'metrics.jsonl', 'recon-00000002.png', 'recon-00000004.png', 'samples-00000002.png',
      'samples-00000004.png']],
  ];
  for (const [fault, when, left] of faults) {
    test(`killed ${when} (BIGBIGAN_FAULT=${fault}): resumed, it ends as if never interrupted`, () => {
      const out = path.join(root, fault.replace('@', '-'));
      const killed = cli(train(out), { env: { ...ENV, BIGBIGAN_FAULT: fault } });
      assert.equal(killed.signal, 'SIGKILL', killed.lines.join('\n'));
      const names = fs.readdirSync(out).sort();
      assert.deepEqual(names.filter((n) => n !== '.lock' && !/\.tmp-\d+$/.test(n)), left);  // what the killed run had written
      assert.ok(names.includes('.lock'), 'the dead process\'s lock is there');
      const resumed = resumeLikeAUser(out);
      assert.equal(resumed.code, 0, resumed.lines.join('\n'));
      const takenOver = /^\[bigbigan\] .* was locked by process \d+ on .*, which is no longer running: lock taken over$/;
      assert.ok(resumed.lines.some((l) => takenOver.test(l)), resumed.lines.join('\n'));
      assertAsIfUninterrupted(out);
    });
  }

  test('killed at a random moment: resumed, it ends as if never interrupted', async () => {
    for (let trial = 0; trial < 2; trial++) {
      const out = path.join(root, `random-${trial}`);
      const delayMs = 800 + Math.floor(Math.random() * 4000);
      const run = cliAsync(train(out));
      const timer = setTimeout(() => run.child.kill('SIGKILL'), delayMs);
      const killed = await run.done;
      clearTimeout(timer);
      const resumed = resumeLikeAUser(out);
      assert.equal(resumed.code, 0, `killed after ${delayMs} ms (${killed.signal ?? 'finished first'}): ${resumed.lines.join('\n')}`);
      assertAsIfUninterrupted(out);
    }
  });
});
