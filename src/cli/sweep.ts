/**
 * The commands of the ablation sweep: `sweep` (a local pool, or enqueued with --queue), `worker` and `results`.
 * The queue module (BullMQ, ioredis) is loaded only by the commands that use a queue.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ABLATIONS, PRESETS, sweepSteps } from '../presets';
import { runLocalSweep } from '../sweep/local';
import { ablationSweep, SweepDefinition } from '../sweep/plan';
import { readResultsTable } from '../sweep/results';
import { resultsMarkdown, unfinishedLine, verdictHeader } from '../sweep/report';
import { hasEvalCurves, rowCurves } from '../sweep/curves';
import { NO_CURVES_REASON, writeCurveCharts } from '../sweep/charts';
import { BACKEND_OPTION, Command, intOption, stringOption, UsageError } from './command';
import { readJsonFile } from '../util/fs_safe';

/** The presets whose sweep budget was measured (Base's E 10 probe points over its random init), for --help. */
const MEASURED_BUDGETS = Object.keys(PRESETS).filter((p) => PRESETS[p].sweepSteps).map((p) => `${p} ${sweepSteps(p)}`).join(', ');

/** `sweep --queue`: enqueue the unfinished runs, or (--status) report them, (--wait) until none is waiting or running. */
async function queueSweep(def: SweepDefinition, out: string, queue: string, status: boolean, wait: boolean): Promise<void> {
  const { enqueueSweep, formatStatus, sweepStatus } = await import('../sweep/queue');
  if (!status) {
    const s = await enqueueSweep(def, { queue, out });
    console.log(`sweep ${out}: ${s.added.length} runs enqueued, ${s.retried.length} failed runs retried, ` +
                `${s.skipped.length} finished or already queued; start workers with: npx bigbigan worker --queue ${queue}`);
    return;
  }
  for (;;) {
    const states = await sweepStatus(def, { queue, out });
    for (const line of formatStatus(states, out)) console.log(line);
    if (!wait || !states.some((r) => ['waiting', 'running', 'delayed'].includes(r.state))) {
      if (states.some((r) => r.state === 'failed')) process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 10_000));
  }
}

export const sweepCommand: Command = {
  name: 'sweep',
  summary: 'every ablation row × seeds, trained and evaluated, resumable, one results table',
  about: `Train and evaluate every ablation row × seed (default 3 seeds, the preset's budget of steps, 2 jobs at a time,
DIR runs/sweep-<preset>); re-running skips finished runs and resumes interrupted ones; writes DIR/results.csv
and DIR/results.json. With --queue redis://HOST:PORT the unfinished runs are enqueued for workers instead
(DIR must be on storage every worker reaches at the same path); --status shows queued, running, done and
failed runs and writes the results table; --wait repeats it until no run is waiting or running.`,
  options: {
    grid: { value: 'ablations', help: "the grid (only the paper's Table 1 rows)" },
    preset: { value: 'NAME', help: 'the preset every row is a delta on (default mnist)' },
    seeds: { value: 'N', help: 'seeds per row (default 3)' },
    steps: { value: 'N', help: `E/G steps of every run (default: the preset's budget, ${MEASURED_BUDGETS}; others ${sweepSteps('')})` },
    jobs: { value: 'N', help: 'runs at a time in the local pool (default 2)' },
    rows: { value: 'a,b,...', help: 'only these ablation rows' },
    set: { value: 'key=value', multiple: true, help: 'override one config key in every run (repeatable)' },
    out: { value: 'DIR', help: 'the sweep folder' },
    queue: { value: 'redis://HOST:PORT', help: 'enqueue the runs for `bigbigan worker`s' },
    status: { help: 'with --queue: report the runs and write the results table' },
    wait: { help: 'with --status: repeat until no run is waiting or running' },
    ...BACKEND_OPTION,
  },
  async run({ values }) {
    const grid = stringOption(values, 'grid') ?? 'ablations';
    if (grid !== 'ablations') throw new UsageError(`Expected --grid ablations (the paper's Table 1 rows), but got '${grid}'`);
    const preset = stringOption(values, 'preset') ?? 'mnist';
    let def;
    try {
      def = ablationSweep({ preset, seeds: intOption(values, 'seeds', 3), steps: intOption(values, 'steps', sweepSteps(preset)),
                            rows: stringOption(values, 'rows')?.split(',').map((r) => r.trim()).filter(Boolean),
                            settings: (values.set as string[] | undefined) ?? [] });
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const out = stringOption(values, 'out') ?? path.join('runs', `sweep-${preset}`);
    const force = stringOption(values, 'backend');
    if (force) process.env.BIGBIGAN_BACKEND = force;  // the runs' processes select it
    const queue = stringOption(values, 'queue');
    if (queue !== undefined) {
      await queueSweep(def, out, queue, values.status === true, values.wait === true);
      return;
    }
    const summary = await runLocalSweep(def, { out, jobs: intOption(values, 'jobs', 2) });
    if (summary.failed.length > 0) process.exitCode = 1;
  },
};

export const workerCommand: Command = {
  name: 'worker',
  summary: 'take sweep runs from a BullMQ queue on Redis',
  synopsis: '--queue redis://HOST:PORT [options]',
  about: `Take sweep runs from the queue and train + evaluate them (N at a time, default 1); a run whose worker
stops renewing its lock for --stall-seconds (default 30) goes to another worker and resumes from its checkpoint.`,
  options: {
    queue: { value: 'redis://HOST:PORT', help: 'the Redis server of the queue' },
    concurrency: { value: 'N', help: 'runs at a time (default 1)' },
    'stall-seconds': { value: 'N', help: 'seconds without a lock renewal before a run goes elsewhere (default 30)' },
  },
  async run({ values }) {
    const queue = stringOption(values, 'queue');
    if (queue === undefined) throw new UsageError('Expected --queue redis://HOST:PORT, but got none');
    const { runWorker } = await import('../sweep/queue');
    const worker = await runWorker({
      queue, concurrency: intOption(values, 'concurrency', 1), stallSeconds: intOption(values, 'stall-seconds', 30),
    });
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { void worker.close().then(resolve); });
    });
  },
};

export const resultsCommand: Command = {
  name: 'results',
  summary: "a sweep's results table summarised over seeds as Markdown, verdicts against the paper, curve charts",
  synopsis: 'DIR|FILE',
  about: `A sweep's results table (DIR/results.csv) summarised over seeds as Markdown: mean ± std, each trained figure
beside its random-init E and raw pixels and the trained − random-init gain, and a verdict on each of the paper's
Table-1 directions (reproduced / opposite / not resolved, by the rule printed above the table), counted at the
top, then the same count paired by seed (row − reference per seed, so the seed's effect on every row cancels);
a sweep still under way (DIR/sweep.json names runs the table lacks) gets a line saying which. The charts
of FID and probe top-1 against step (one line per row, mean ± std over seeds, Base in black) are written into
the sweep folder as DIR/curves-fid.svg and DIR/curves-probe.svg when its runs logged curves.`,
  options: {},
  positionals: true,
  run({ positionals }) {
    const [target] = positionals;
    if (target === undefined) throw new UsageError('Expected a sweep folder or results file: bigbigan results DIR');
    const isDir = fs.existsSync(target) && fs.statSync(target).isDirectory();
    const file = isDir ? path.join(target, 'results.csv') : target;
    const dir = isDir ? target : path.dirname(file);
    const rows = readResultsTable(file);
    if (rows === null) throw new UsageError(`Expected a results table at ${file}, but it does not exist`);
    const [count, rule, paired] = verdictHeader(rows);
    const definition = path.join(dir, 'sweep.json');
    const unfinished = fs.existsSync(definition)
      ? unfinishedLine(readJsonFile<SweepDefinition>(definition, 'a sweep definition', 'remove it or restore it from the repository'), rows)
      : null;
    console.log(`${dir}: ${count}\n${rule}\n${paired}\n${unfinished === null ? '' : unfinished + '\n'}`);
    console.log(resultsMarkdown(rows, (row) => ABLATIONS[row]?.paper ?? ''));
    const curves = fs.existsSync(path.join(dir, 'results.csv')) ? rowCurves(dir) : [];
    const charts = hasEvalCurves(curves) ? writeCurveCharts(dir, curves) : [];
    console.log('');
    console.log(charts.length > 0 ? `curves: ${charts.join(', ')}`
      : `curves: none in ${dir} (${NO_CURVES_REASON}): no chart written`);
    return Promise.resolve();
  },
};
