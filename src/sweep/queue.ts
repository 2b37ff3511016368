/**
 * A sweep spread over many machines on BullMQ (a job queue on Redis): the
 * same plan, jobs and results table as the local sweep (sweep/plan.ts), with one
 * queue job per run. `enqueueSweep` adds the unfinished runs; `runWorker`
 * takes jobs on any machine and runs each in a child process exactly as the
 * local sweep does; `sweepStatus` reports and writes the results table.
 *
 * Runs write to the sweep folder, which must be on storage every worker
 * reaches at the same path (NFS, a cluster file system): a job taken over
 * after a crash resumes from that run's last checkpoint. BullMQ provides the
 * rest: retries with back-off (3 attempts), stalled-job recovery (a worker
 * whose lock lapses, e.g. killed, loses its job to another), failed jobs
 * with their error text. Loaded only for --queue: nothing else needs Redis.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { formatDuration } from '../util/progress';
import { KIT_VERSION } from '../train/run_checkpoint';
import { JobProgress, JobResult, openSweepFolder, planSweep, readJobResult, SweepDefinition, SweepJob, writeSweepResults } from './plan';
import { runInChild } from './local';

export const QUEUE_NAME = 'bigbigan-sweep';

/** What a queue job carries: everything a worker on another machine needs. */
export interface QueueJobData {
  kitVersion: string;
  /** The sweep folder, absolute, on shared storage. */
  out: string;
  def: SweepDefinition;
  job: SweepJob;
  /** Feature-net training steps when not cached (tests); workers use their own cache ($BIGBIGAN_CACHE). */
  featureNetSteps?: number;
}

/** Checks `url` and that a Redis server answers there; one clear error otherwise. */
export async function connectRedis(url: string): Promise<IORedis> {
  let parsed: URL;
  try { parsed = new URL(url); } catch { parsed = new URL('invalid://'); }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new Error(`Expected --queue redis://HOST:PORT (or rediss://), but got '${url}'`);
  }
  const probe = new IORedis(url, {
    lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null,
  });
  probe.on('error', () => { /* reported below */ });
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    probe.disconnect();
    throw new Error(`Expected a Redis server at ${url}, but could not connect (${(e as Error).message || 'no answer'})`);
  }
  probe.disconnect();
  return new IORedis(url, { maxRetriesPerRequest: null });  // BullMQ's blocking commands need no retry limit
}

/** The queue job id of a run: the sweep folder's hash and the run's name (BullMQ ids must not contain ':'). */
function jobId(out: string, job: SweepJob): string {
  return `${createHash('sha1').update(path.resolve(out)).digest('hex').slice(0, 12)}-${job.name}`;
}

export interface EnqueueSummary {
  added: string[];
  retried: string[];
  /** Runs already finished (result.json) or already queued / running. */
  skipped: string[];
}

/**
 * Adds one queue job per unfinished run of `def` (idempotent: a run already
 * queued or running is left alone; a failed one is retried; a finished one,
 * with its result.json, is skipped).
 */
export async function enqueueSweep(def: SweepDefinition,
                                   opts: { queue: string; out: string; featureNetSteps?: number }): Promise<EnqueueSummary> {
  const out = path.resolve(opts.out);
  const connection = await connectRedis(opts.queue);
  const queue = new Queue<QueueJobData, JobResult>(QUEUE_NAME, { connection });
  const summary: EnqueueSummary = { added: [], retried: [], skipped: [] };
  try {
    openSweepFolder(out, def);
    for (const job of planSweep(def)) {
      const id = jobId(out, job);
      const existing = await queue.getJob(id);
      if (readJobResult(out, job) !== null) { summary.skipped.push(job.name); continue; }
      const state = existing ? await existing.getState() : 'unknown';
      if (state === 'failed') { await existing!.retry('failed'); summary.retried.push(job.name); continue; }
      if (state === 'completed') await existing!.remove();  // completed, but its result is gone from the folder: run again
      else if (state !== 'unknown') { summary.skipped.push(job.name); continue; }
      await queue.add(job.name, { kitVersion: KIT_VERSION, out, def, job, featureNetSteps: opts.featureNetSteps }, {
        jobId: id, attempts: 3, backoff: { type: 'exponential', delay: 10_000 }, removeOnComplete: false, removeOnFail: false,
      });
      summary.added.push(job.name);
    }
  } finally {
    await queue.close();
    connection.disconnect();
  }
  return summary;
}

export interface WorkerOptions {
  queue: string;
  concurrency: number;
  /** Seconds without a lock renewal after which a job counts as stalled and goes to another worker (default 30). */
  stallSeconds?: number;
  log?: (line: string) => void;
}

/** Starts a worker; resolves with a handle once it listens. `close()` stops it (running children end with it). */
export async function runWorker(opts: WorkerOptions): Promise<{ close: () => Promise<void> }> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const connection = await connectRedis(opts.queue);
  const stallMs = 1000 * (opts.stallSeconds ?? 30);
  const worker = new Worker<QueueJobData, JobResult>(QUEUE_NAME, async (bj: Job<QueueJobData, JobResult>) => {
    const d = bj.data;
    if (d.kitVersion !== KIT_VERSION) {
      throw new UnrecoverableError(`This worker runs kit ${KIT_VERSION}, but run ${d.job.name} was queued by kit ${d.kitVersion}: ` +
                                   `start a worker of kit ${d.kitVersion} for it`);
    }
    const t0 = Date.now();
    log(`worker ${process.pid}: took ${d.job.name} (attempt ${bj.attemptsMade + 1}) of ${d.out}`);
    const onProgress = (p: JobProgress) => { void bj.updateProgress(p as unknown as object).catch(() => undefined); };
    const result = await runInChild({ out: d.out, def: d.def, job: d.job, featureNetSteps: d.featureNetSteps }, onProgress,
                                    opts.concurrency, (line) => log(`worker ${process.pid}: ${d.job.name}: ${line}`));
    log(`worker ${process.pid}: finished ${d.job.name} in ${formatDuration((Date.now() - t0) / 1000)} (${result.status})`);
    return result;
  }, { connection, concurrency: opts.concurrency, lockDuration: stallMs, stalledInterval: stallMs, maxStalledCount: 3 });
  worker.on('failed', (bj, e) => log(`worker ${process.pid}: ${bj?.data.job.name ?? 'a job'} failed: ${e.message}`));
  worker.on('error', (e) => log(`worker ${process.pid}: ${e.message}`));
  await worker.waitUntilReady();
  log(`worker ${process.pid}: listening on ${opts.queue} (queue ${QUEUE_NAME}, kit ${KIT_VERSION}, ${opts.concurrency} at a time)`);
  return {
    close: async () => {
      await worker.close(true);
      connection.disconnect();
    },
  };
}

export interface RunStatus {
  name: string;
  state: 'done' | 'waiting' | 'running' | 'failed' | 'delayed' | 'not queued';
  progress?: JobProgress;
  error?: string;
  attempts?: number;
}

/** The state of every run of `def` (a result in the folder counts as done) and the results table, rewritten. */
export async function sweepStatus(def: SweepDefinition, opts: { queue: string; out: string }): Promise<RunStatus[]> {
  const out = path.resolve(opts.out);
  const connection = await connectRedis(opts.queue);
  const queue = new Queue<QueueJobData, JobResult>(QUEUE_NAME, { connection });
  try {
    const states: RunStatus[] = [];
    for (const job of planSweep(def)) {
      if (readJobResult(out, job) !== null) { states.push({ name: job.name, state: 'done' }); continue; }
      const bj = await queue.getJob(jobId(out, job));
      const s = bj ? await bj.getState() : 'unknown';
      const state: RunStatus['state'] = s === 'active' ? 'running' : s === 'failed' ? 'failed' : s === 'delayed' ? 'delayed'
        : s === 'unknown' ? 'not queued' : s === 'completed' ? 'done' : 'waiting';
      states.push({ name: job.name, state, attempts: bj?.attemptsMade, error: bj?.failedReason || undefined,
                    progress: typeof bj?.progress === 'object' ? bj.progress as unknown as JobProgress : undefined });
    }
    writeSweepResults(out, def);
    return states;
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

/** Status as lines: counts, then the running and the failed runs. */
export function formatStatus(states: RunStatus[], out: string): string[] {
  const count = (s: RunStatus['state']) => states.filter((r) => r.state === s).length;
  const lines = [`sweep ${out}: ${states.length} runs: ${count('done')} done, ${count('running')} running, ${count('waiting')} waiting, ` +
                 `${count('delayed')} delayed (retry back-off), ${count('failed')} failed, ${count('not queued')} not queued`];
  for (const r of states.filter((s) => s.state === 'running')) {
    const p = r.progress;
    lines.push(`  running ${r.name}${p ? `: ${p.phase === 'eval' ? 'evaluating' : `step ${p.step}/${p.total}`}` : ''}`);
  }
  for (const r of states.filter((s) => s.state === 'failed')) lines.push(`  failed ${r.name} after ${r.attempts} attempts: ${r.error}`);
  if (count('done') === states.length) lines.push(`all ${states.length} runs are finished; results: ${path.join(out, 'results.csv')}`);
  return lines;
}
