/**
 * The child process of runs.ts trainInBackground: trains one run with
 * trainRun (quiet) from the JSON job on its command line, so that the
 * notebook's kernel stays free to redraw charts while it trains.
 * Usage: node dist/src/notebook/train_worker.js '<WorkerJob JSON>'
 */
import { trainRun } from '../run/train_run';
import { loadRunDataset } from '../train/run_data';
import type { WorkerJob } from './runs';

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as WorkerJob;
  const dataset = await loadRunDataset(job.cfg, job.data);
  const result = await trainRun({ cfg: job.cfg, out: job.out, resume: job.resume, quiet: true, dataset, evaluation: job.evaluation });
  process.stdout.write(JSON.stringify(result) + '\n');
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
