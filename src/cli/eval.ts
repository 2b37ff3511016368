/** `bigbigan eval`: the evaluation of a checkpoint. */
import * as fs from 'fs';
import * as path from 'path';
import { selectBackend } from '../backend/select';
import { checkpointOfStep, evaluateCheckpoint, formatEvalReport, FULL_EVAL, QUICK_EVAL, withTestImages } from '../eval/evaluate';
import { evaluatePretrained, formatPretrainedReport, PRETRAINED_FEATURES, PretrainedFeature } from '../pretrained/evaluate';
import { loadPretrained } from '../pretrained/model';
import { BACKEND_OPTION, Command, configOption, intOption, OptionValues, stringOption, UsageError } from './command';

/** The --set keys that mean something for a pretrained model: the rest configure the kit's own training. */
const PRETRAINED_KEYS = ['dataset', 'dataPath'];

/**
 * `eval --pretrained DIR --data imagefolder --set dataPath=FOLDER`: the paper's linear probe on the released
 * BigBiGAN (src/pretrained/) over an ImageNet-style folder, and its reconstructions and samples.
 */
async function evalPretrained(values: OptionValues, dir: string): Promise<void> {
  const data = stringOption(values, 'data');
  const extra = ((values.set as string[] | undefined) ?? []).map((s) => s.split('=')[0]).find((k) => !PRETRAINED_KEYS.includes(k));
  if (extra !== undefined) throw new UsageError(`Expected only --set dataPath=FOLDER with --pretrained, but got '${extra}'`);
  const { cfg } = configOption(values, data !== undefined ? [`dataset=${data}`] : []);
  if (cfg.dataset !== 'imagefolder' || cfg.dataPath === '') {
    throw new UsageError(`Expected --data imagefolder --set dataPath=FOLDER (train/ and val/ class folders) with --pretrained, ` +
      `but got --data ${cfg.dataset}${cfg.dataPath ? ` and dataPath ${cfg.dataPath}` : ' and no dataPath'}`);
  }
  const feature = stringOption(values, 'feature') ?? 'both';
  if (feature !== 'both' && !PRETRAINED_FEATURES.includes(feature as PretrainedFeature)) {
    throw new UsageError(`Expected --feature avepool, bn_crelu or both, but got '${feature}'`);
  }
  await selectBackend({ force: stringOption(values, 'backend'), quiet: values.json === true });
  const model = await loadPretrained(dir, { signatures: ['encode', 'generate'] });
  try {
    const report = await evaluatePretrained(model, cfg.dataPath, {
      outDir: stringOption(values, 'out') ?? path.join(dir, 'eval'),
      kinds: feature === 'both' ? undefined : [feature as PretrainedFeature],
      limit: values.images === undefined ? undefined : intOption(values, 'images', 1),
      batchSize: intOption(values, 'batch', 32), pictures: intOption(values, 'pictures', 16, 0), progress: values.json !== true,
    });
    console.log(values.json === true ? JSON.stringify(report) : formatPretrainedReport(report));
  } finally {
    model.dispose();
  }
}

export const evalCommand: Command = {
  name: 'eval',
  summary: 'linear probe, k-NN, FID/IS and reconstructions of a checkpoint',
  synopsis: '--run DIR|FILE [options]  |  --pretrained DIR --data imagefolder --set dataPath=FOLDER [options]',
  about: `Evaluate a run's newest checkpoint (or a checkpoint file): linear probe and k-NN on E's features beside
random-init and pixel baselines, FID/IS of G_ema and raw G, reconstructions; writes DIR/eval/eval-<step>.json
and a grid.
With --pretrained: DeepMind's released BigBiGAN converted to tfjs (README, 'The released BigBiGAN'): a linear
probe on E's avepool and BN+CReLU features of FOLDER's train split, top-1/top-5 on its val split (the paper's
Table 2 protocol), reconstructions and samples; writes them and pretrained-eval.json to --out. --images N then
caps each split at N images (round-robin over classes).`,
  options: {
    run: { value: 'DIR|FILE', help: 'a run folder or a checkpoint file' },
    checkpoint: { value: 'STEP', help: "the run's checkpoint of this step instead of the newest" },
    quick: { help: 'the quick settings of the evaluations during training' },
    images: { value: 'N', help: 'N test images for each evaluation' },
    json: { help: 'print the report as JSON' },
    inception: { value: 'DIR', help: 'an Inception feature network (tfjs graph model) for FID/IS' },
    pretrained: { value: 'DIR', help: 'a converted released BigBiGAN (DIR/encode, DIR/generate) instead of --run' },
    data: { value: 'NAME', help: 'with --pretrained: imagefolder' },
    set: { value: 'key=value', multiple: true, help: 'with --pretrained: dataPath=FOLDER' },
    feature: { value: 'KIND', help: 'with --pretrained: avepool, bn_crelu or both (default)' },
    batch: { value: 'N', help: 'with --pretrained: images per forward pass (default 32)' },
    pictures: { value: 'N', help: 'with --pretrained: images reconstructed and sampled (default 16; 0 none)' },
    out: { value: 'DIR', help: 'with --pretrained: where results and the feature cache go (default DIR/eval)' },
    ...BACKEND_OPTION,
  },
  async run({ values }) {
    const pretrained = stringOption(values, 'pretrained');
    if (pretrained !== undefined) return evalPretrained(values, pretrained);
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
