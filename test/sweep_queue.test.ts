/**
 * Sweeps over BullMQ (src/sweep/queue.ts) against a redis-server this test
 * starts on loopback (.ci/run installs Debian's redis-server): two worker
 * processes finish a tiny sweep with each run once and the local sweep's
 * results; a worker killed with SIGKILL mid-run loses its run to the other,
 * which resumes it from the checkpoint; clear errors for a bad or unreachable
 * queue and for a job of another kit version.
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { Queue } from 'bullmq';
import { readResultsTable, ResultRow } from '../src/sweep/results';
import { SweepDefinition } from '../src/sweep/plan';
import { tinySweep } from './sweep_fixture';
import { runLocalSweep } from '../src/sweep/local';
import { connectRedis, enqueueSweep, QUEUE_NAME, RunStatus, sweepStatus } from '../src/sweep/queue';
import { skipUnless } from './optional';

const CLI = path.join(__dirname, '..', 'src', 'cli.js');

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, seconds: number, check: () => Promise<T | null> | T | null): Promise<T> {
  const end = Date.now() + seconds * 1000;
  for (;;) {
    const v = await check();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`Timed out after ${seconds} s waiting for ${what}`);
    await sleep(200);
  }
}

/** A results table without its wall times (the only column that may differ between two executions). */
const figures = (rows: ResultRow[]) => rows.map(({ wall_s, ...rest }) => rest);

const noRedis = skipUnless('redis-server');

describe('sweep on a BullMQ queue', { skip: noRedis }, () => {
  if (noRedis) return;
  let redis: ChildProcess;
  let url: string;
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-cache-'));
  const workers: ChildProcess[] = [];

  /** A worker process (the CLI) with its log collected. */
  function startWorker(): { proc: ChildProcess; log: () => string } {
    let log = '';
    const proc = spawn(process.execPath, [CLI, 'worker', '--queue', url, '--stall-seconds', '2'], {
      env: { ...process.env, BIGBIGAN_CACHE: cacheDir, BIGBIGAN_BACKEND: 'wasm' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => { log += d; });
    proc.stderr!.on('data', (d) => { log += d; });
    workers.push(proc);
    return { proc, log: () => log };
  }

  /** Stops every worker of the test (each test starts its own). */
  async function stopWorkers(): Promise<void> {
    await Promise.all(workers.splice(0).map((w) => new Promise<void>((resolve) => {
      if (w.exitCode !== null || w.signalCode !== null) return resolve();
      w.once('exit', () => resolve());
      w.kill('SIGTERM');
    })));
  }

  async function waitListening(w: { log: () => string }): Promise<void> {
    await until('the worker to listen', 60, () => (/listening on/.test(w.log()) ? true : null));
  }

  async function statesOf(def: SweepDefinition, out: string): Promise<RunStatus[]> {
    return sweepStatus(def, { queue: url, out });
  }

  before(async () => {
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await until('redis-server', 20, async () => {
      try { (await connectRedis(url)).disconnect(); return true; } catch { return null; }
    });
  });

  afterEach(stopWorkers);

  after(async () => {
    await stopWorkers();
    redis.kill('SIGKILL');
  });

  test('two workers finish a tiny sweep: each run once, the same table as the local sweep', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-sweep-'));
    const def = tinySweep(['base', 'no-e', 'deterministic-e'], 2);
    // The native kernels' sums split over threads, so equal bits need equal thread counts: a local
    // sweep of 2 jobs gives each run 1, a worker of concurrency 1 would give its run every core.
    process.env.BIGBIGAN_NATIVE_THREADS = '1';
    const [a, b] = [startWorker(), startWorker()];
    await Promise.all([waitListening(a), waitListening(b)]);
    const added = await enqueueSweep(def, { queue: url, out, featureNetSteps: 20 });
    assert.equal(added.added.length, 6);
    const again = await enqueueSweep(def, { queue: url, out, featureNetSteps: 20 });  // idempotent
    assert.deepEqual([again.added.length, again.skipped.length], [0, 6]);
    const states = await until('the sweep to finish', 300, async () => {
      const s = await statesOf(def, out);
      return s.every((r) => r.state === 'done') ? s : null;
    });
    assert.equal(states.length, 6);
    const took = (log: string) => [...log.matchAll(/took (\S+)/g)].map((m) => m[1]);
    const runs = [...took(a.log()), ...took(b.log())].sort();
    assert.deepEqual(runs, ['base-s0', 'base-s1', 'deterministic-e-s0', 'deterministic-e-s1', 'no-e-s0', 'no-e-s1']);  // each once
    assert.ok(took(a.log()).length > 0 && took(b.log()).length > 0, 'both workers took runs');
    for (const run of runs) assert.equal(fs.readdirSync(path.join(out, run, 'eval')).filter((f) => f.endsWith('.json')).length, 1);

    const local = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-local-'));
    await runLocalSweep(def, { out: local, jobs: 2, cacheDir, featureNetSteps: 20, log: null });
    assert.deepEqual(figures(readResultsTable(path.join(out, 'results.csv'))!),
                     figures(readResultsTable(path.join(local, 'results.csv'))!));
  });

  test('a worker killed mid-run loses its run to the other, which resumes it from the checkpoint', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-kill-'));
    const def = tinySweep(['base'], 1, 60, ['checkpointEvery=5']);
    const a = startWorker();
    await waitListening(a);
    await enqueueSweep(def, { queue: url, out, featureNetSteps: 20 });
    const run = path.join(out, 'base-s0');
    const pastStep10 = (f: string) => /^ckpt-000000([1-4]\d|5[05])\.bin$/.test(f);
    await until('a checkpoint past step 10', 120, () => (fs.existsSync(run) && fs.readdirSync(run).some(pastStep10) ? true : null));
    a.proc.kill('SIGKILL');
    const b = startWorker();
    await until('the run to finish', 300, async () => ((await statesOf(def, out)).every((r) => r.state === 'done') ? true : null));
    assert.match(b.log(), /took base-s0 \(attempt \d\)/);
    const all = zlib.gunzipSync(fs.readFileSync(path.join(run, 'metrics.jsonl.gz'))).toString().trim().split('\n')
      .map((l) => JSON.parse(l));
    const lines = all.filter((l) => l.kind === undefined);  // training lines; diagnostics have kind 'diag'
    assert.deepEqual(lines.map((l) => l.step), Array.from({ length: 60 }, (_, i) => i + 1));  // no step lost or logged twice
    const diagSteps = all.filter((l) => l.kind === 'diag').map((l) => l.step);
    assert.deepEqual(diagSteps, [...new Set(diagSteps)], 'no diagnosis logged twice');
    const resumedAt = lines.findIndex((l, i) => i > 0 && Date.parse(l.time) - Date.parse(lines[i - 1].time) > 2500);
    assert.ok(resumedAt > 0, 'the log shows the pause of the takeover (the run was resumed, not restarted)');
    assert.equal(fs.readdirSync(path.join(run, 'eval')).filter((f) => f.endsWith('.json')).length, 1);
  });

  test('a job of another kit version fails with a message; the other jobs go on', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'queue-version-'));
    const w = startWorker();
    await waitListening(w);
    const other = { ...tinySweep(['base'], 1), kitVersion: '0.0.0-other' };
    const connection = await connectRedis(url);
    const queue = new Queue(QUEUE_NAME, { connection });
    await queue.add('base-s0', { kitVersion: '0.0.0-other', out, def: other, job: { name: 'base-s0', rows: ['base'], seed: 0, cfg: {} } },
                    { jobId: 'other-version-base-s0', attempts: 3 });
    const job = await until('the job to fail', 60, async () => {
      const j = await queue.getJob('other-version-base-s0');
      // fetched again once failed: a job read just before it failed carries no failedReason (seen under load)
      return j && (await j.getState()) === 'failed' ? (await queue.getJob('other-version-base-s0')) ?? null : null;
    });
    assert.match(job.failedReason,
                 /This worker runs kit .*, but run base-s0 was queued by kit 0\.0\.0-other: start a worker of kit 0\.0\.0-other/);
    assert.equal(job.attemptsMade, 1);  // not retried: no attempt of this worker can succeed
    await queue.close();
    connection.disconnect();
    // the worker logs the failure from BullMQ's 'failed' event, which may come after the job reads failed
    await until('the worker to log the failure', 30, () => (/base-s0 failed: This worker runs kit/.test(w.log()) ? true : null));
  });

  test('a bad or unreachable queue is one clear error', async () => {
    await assert.rejects(connectRedis('http://127.0.0.1:6379'), /Expected --queue redis:\/\/HOST:PORT \(or rediss:\/\/\), but got 'http:\/\/127.0.0.1:6379'/);
    const closed = `redis://127.0.0.1:${await freePort()}`;
    await assert.rejects(connectRedis(closed), new RegExp(`Expected a Redis server at ${closed}, but could not connect`));
    const r = spawnSync(process.execPath, [CLI, 'worker', '--queue', closed], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /bigbigan: Expected a Redis server at .*, but could not connect/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });
});
