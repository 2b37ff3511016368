/** The tiny sweep the sweep tests share: a 16x16 model for seconds per run, cheap evaluations (at the end and for the curves). */
import { EvalSettings } from '../src/eval/evaluate';
import { ablationSweep, SweepDefinition } from '../src/sweep/plan';

export const TINY = ['zDim=6', 'gCh=4', 'gMults=2,2,1', 'gAttention=8', 'resolution=16', 'eResolution=16', 'eCh=4', 'eMlp=16',
                     'dCh=8', 'dMults=1,2', 'dAttention=8', 'dMlp=16', 'batchSize=8', 'emaStart=1'];
export const TINY_EVAL: EvalSettings = {
  samples: 40, realImages: 40, probeTrain: 60, probeEval: 20, reconstructions: 20, rawG: false, baselines: false,
};

export function tinySweep(rows: string[], seeds: number, steps = 4, settings: string[] = []): SweepDefinition {
  return ablationSweep({ preset: 'mnist', rows, seeds, steps, settings: [...TINY, ...settings], evaluation: TINY_EVAL,
                        curveEvaluation: TINY_EVAL });
}
