/**
 * What a training run's checkpoint holds: G, E, D, G_ema and the Adam slots by stable name, and the
 * meta data (config, step, RNG and batch-iterator state) from which a run resumes exactly.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { Config } from '../config';
import { BatchIteratorState } from '../data';
import { createModels, Models } from '../model/bigbigan';
import { Params } from '../model/params';
import { Checkpoint, loadCheckpoint, loadLatestCheckpoint } from './checkpoint';
import { TrainState } from './steps';

export const KIT_VERSION = '0.1.0';

/** What a checkpoint stores besides tensors. */
export interface CheckpointMeta {
  kitVersion: string;
  config: Config;
  step: number;
  rng: number;
  batches: BatchIteratorState;
  adamSteps: { D: number; G: number; E: number | null };
  /** Saved at the end of a run (its last step, or --minutes ran out). */
  end?: boolean;
}

/** Every tensor a checkpoint holds, by stable name. */
export function checkpointTensors(state: TrainState): Array<[string, tf.Variable]> {
  const { models } = state;
  const named = (prefix: string, list: Array<[string, tf.Variable]>) =>
    list.map(([k, v]) => [`${prefix}/${k}`, v] as [string, tf.Variable]);
  return [
    ...named('G', models.G.all()), ...named('E', models.E?.all() ?? []), ...named('D', models.D.all()),
    ...named('G_ema', models.gEma.all()),
    ...named('adam_D', state.optD.slots()), ...named('adam_G', state.optG.slots()), ...named('adam_E', state.optE?.slots() ?? []),
  ];
}

type Values = Map<string, { shape: number[]; data: Float32Array }>;

/** Assigns the checkpointed values of G, E, D and G_ema to `models`. */
function restoreModels(models: Models, values: Values, file: string): void {
  const put = (prefix: string, params: Params | null) => {
    for (const [k, v] of params?.all() ?? []) {
      const t = values.get(`${prefix}/${k}`);
      if (t === undefined || t.shape.join() !== v.shape.join()) {
        throw new Error(`Checkpoint ${file} lacks ${prefix}/${k} of shape [${v.shape}]`);
      }
      tf.tidy(() => v.assign(tf.tensor(t.data, t.shape)));
    }
  };
  put('G', models.G); put('E', models.E); put('D', models.D); put('G_ema', models.gEma);
}

export function restoreTrainState(state: TrainState, ckpt: Checkpoint<CheckpointMeta>): void {
  const { models } = state;
  const meta = ckpt.meta;
  restoreModels(models, ckpt.values, ckpt.file);
  const slots = (prefix: string) => new Map([...ckpt.values].filter(([k]) => k.startsWith(`${prefix}/`))
    .map(([k, t]) => [k.slice(prefix.length + 1), tf.tensor(t.data, t.shape)]));
  for (const [opt, prefix, params, t] of [[state.optD, 'adam_D', models.D, meta.adamSteps.D],
                                          [state.optG, 'adam_G', models.G, meta.adamSteps.G],
                                          [state.optE, 'adam_E', models.E, meta.adamSteps.E ?? 0]] as const) {
    if (opt === null || params === null) continue;
    const values = slots(prefix);
    opt.restore(t, values, params.weights);
    tf.dispose([...values.values()]);
  }
  state.rng.setState(meta.rng);
  state.step = meta.step;
}

/**
 * The networks of a checkpoint file (or of the newest checkpoint in a run
 * folder), for sampling and evaluation. The caller disposes them (disposeModels).
 */
export function loadModels(fileOrDir: string): { models: Models; step: number; file: string } {
  const ckpt = fs.statSync(fileOrDir).isDirectory()
    ? loadLatestCheckpoint<CheckpointMeta>(fileOrDir)
    : loadCheckpoint<CheckpointMeta>(fileOrDir);
  if (ckpt === null) throw new Error(`Expected a checkpoint in ${fileOrDir}, but found none`);
  const models = createModels(ckpt.meta.config);
  restoreModels(models, ckpt.values, ckpt.file);
  return { models, step: ckpt.meta.step, file: ckpt.file };
}
