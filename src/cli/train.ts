/** The commands around one configuration: `train`, `params`, `presets`. */
import * as path from 'path';
import { selectBackend } from '../backend/select';
import { countParameters } from '../model/bigbigan';
import { ABLATIONS, PRESETS } from '../presets';
import { trainRun } from '../run/train_run';
import { BACKEND_OPTION, Command, CONFIG_OPTIONS, configOption, intOption, stringOption, UsageError } from './command';

export const trainCommand: Command = {
  name: 'train',
  summary: 'train BigBiGAN (a preset, an ablation row, overrides), resumable',
  about: `Train BigBiGAN; writes config.json, metrics.jsonl, sample and reconstruction grids and checkpoints to DIR
(default runs/<preset>-<ablation>-<time>); --minutes M ends the run early (pictures, checkpoint) once
M minutes have passed, --resume continues it.`,
  options: {
    ...CONFIG_OPTIONS,
    steps: { value: 'N', help: 'E/G steps (the same as --set steps=N)' },
    out: { value: 'DIR', help: 'the run folder' },
    resume: { help: "continue the run in DIR from its newest intact checkpoint" },
    minutes: { value: 'M', help: 'stop after the step during which M minutes have passed' },
    ...BACKEND_OPTION,
  },
  async run({ values }) {
    const steps = values.steps === undefined ? [] : [`steps=${intOption(values, 'steps', 1)}`];
    const { preset, ablation, cfg } = configOption(values, steps);
    const stamp = new Date().toISOString().slice(0, 16).replace(/[-:]/g, '').replace('T', '-');
    const out = stringOption(values, 'out') ?? path.join('runs', `${preset}-${ablation}-${stamp}`);
    const force = stringOption(values, 'backend');
    if (force) await selectBackend({ force });
    const minutes = values.minutes === undefined ? undefined : Number(values.minutes);
    if (minutes !== undefined && !(minutes > 0)) {
      throw new UsageError(`Expected --minutes to be a number > 0, but got '${String(values.minutes)}'`);
    }
    const r = await trainRun({ cfg, out, resume: values.resume === true, minutes });
    const losses = r.last.L_D === undefined ? 'no step logged' : `L_D ${r.last.L_D.toFixed(3)}, L_EG ${r.last.L_EG.toFixed(3)}`;
    console.log(`step ${r.step}: ${losses}`);
    if (r.stoppedEarly) {
      console.log(`stopped at step ${r.step} of ${cfg.steps}: --minutes ${minutes} ran out (continue with --resume --out ${out})`);
    }
    const recon = r.reconstructions ?? (cfg.noEncoder ? 'none (no encoder)' : 'none (fewer than 8 held-out images to show)');
    console.log(`samples: ${r.samples ?? 'none'}\nreconstructions: ${recon}\ncheckpoint: ${r.checkpoint}\n` +
                `metrics: ${path.join(out, 'metrics.jsonl')}`);
    if (cfg.evalEvery === 0) {
      console.log(`evaluate it (linear probe, k-NN, FID/IS, reconstructions): npx bigbigan eval --run ${out} --quick`);
    }
  },
};

export const paramsCommand: Command = {
  name: 'params',
  summary: "build a configuration's networks and print their parameter counts",
  about: "Build a configuration's networks and print their parameter counts.",
  options: { ...CONFIG_OPTIONS, ...BACKEND_OPTION },
  async run({ values }) {
    const { preset, ablation, cfg } = configOption(values);
    await selectBackend({ force: stringOption(values, 'backend') });
    const started = Date.now();
    const c = countParameters({ ...cfg, init: 'normal' });  // cheap init: only the shapes matter here
    const total = c.G + c.D + (c.E ? c.E.trunk + c.E.head : 0);
    const fmt = (n: number) => n.toLocaleString('en-US');
    const e = c.E ? `${fmt(c.E.trunk + c.E.head)} (trunk ${fmt(c.E.trunk)}, MLP head ${fmt(c.E.head)})` : 'none';
    console.log(`${preset}/${ablation}: G ${fmt(c.G)}; E ${e}; D ${fmt(c.D)}; total ${fmt(total)} trainable parameters ` +
                `(built in ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  },
};

export const presetsCommand: Command = {
  name: 'presets',
  summary: "list the presets and the paper's ablation rows with their config deltas",
  about: "List the presets and the paper's ablation rows with their config deltas.",
  options: {},
  run() {
    console.log('Presets (bigbigan train --preset NAME):');
    for (const [name, p] of Object.entries(PRESETS)) {
      console.log(`  ${name.padEnd(12)} ${p.about}\n  ${''.padEnd(12)} ${JSON.stringify(p.delta)}`);
    }
    console.log('\nAblation rows of the paper\'s Table 1 (--ablation NAME), deltas on the preset:');
    for (const [name, a] of Object.entries(ABLATIONS)) {
      const halves = a.halve ? ` halves ${a.halve.join(', ')}` : '';
      console.log(`  ${name.padEnd(16)} ${a.about}; paper: ${a.paper}\n  ${''.padEnd(16)} ${JSON.stringify(a.delta)}${halves}`);
    }
    return Promise.resolve();
  },
};
