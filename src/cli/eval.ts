/** `bigbigan eval`: the evaluation of a checkpoint. */
import * as fs from 'fs';
import { selectBackend } from '../backend/select';
import { checkpointOfStep, evaluateCheckpoint, formatEvalReport, FULL_EVAL, QUICK_EVAL, withTestImages } from '../eval/evaluate';
import { BACKEND_OPTION, Command, intOption, stringOption, UsageError } from './command';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'linear probe, k-NN, FID/IS and reconstructions of a checkpoint',
  synopsis: '--run DIR|FILE [options]',
  about: `Evaluate a run's newest checkpoint (or a checkpoint file): linear probe and k-NN on E's features beside
random-init and pixel baselines, FID/IS of G_ema and raw G, reconstructions; writes DIR/eval/eval-<step>.json
and a grid.`,
  options: {
    run: { value: 'DIR|FILE', help: 'a run folder or a checkpoint file' },
    checkpoint: { value: 'STEP', help: "the run's checkpoint of this step instead of the newest" },
    quick: { help: 'the quick settings of the evaluations during training' },
    images: { value: 'N', help: 'N test images for each evaluation' },
    json: { help: 'print the report as JSON' },
    inception: { value: 'DIR', help: 'an Inception feature network (tfjs graph model) for FID/IS' },
    ...BACKEND_OPTION,
  },
  async run({ values }) {
    const run = stringOption(values, 'run');
    if (run === undefined) throw new UsageError('Expected --run DIR (a run folder) or a checkpoint file, but got none');
    if (!fs.existsSync(run)) throw new UsageError(`Expected --run to name a run folder or checkpoint file, but ${run} does not exist`);
    await selectBackend({ force: stringOption(values, 'backend'), quiet: values.json === true });
    const base = values.quick === true ? QUICK_EVAL : FULL_EVAL;
    const settings = values.images === undefined ? base : withTestImages(base, intOption(values, 'images', 1));
    let target = run;
    if (values.checkpoint !== undefined) {
      try {
        target = checkpointOfStep(run, intOption(values, 'checkpoint', 0, 0));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    }
    const report = await evaluateCheckpoint(target, settings,
                                            { inception: stringOption(values, 'inception'), quiet: values.json === true });
    console.log(values.json === true ? JSON.stringify(report) : formatEvalReport(report));
  },
};
