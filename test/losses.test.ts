/**
 * l_D and l_EG (src/model/losses.ts) against the paper's formulas computed
 * independently in plain JS numbers, for every ablation of the unary terms.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { hinge, lossD, lossEG, lossTerms, Scores } from '../src/model/losses';
import { Rng } from '../src/util/rng';
import { useBackend } from './use_backend';

type Raw = { s_x: number[]; s_z: number[]; s_xz: number[] };
const h = (t: number) => Math.max(0, 1 - t);
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

function toScores(r: Raw): Scores {
  return { s_x: tf.tensor1d(r.s_x), s_z: tf.tensor1d(r.s_z), s_xz: tf.tensor1d(r.s_xz) };
}

/** L_D and L_EG straight from the paper, over the kept terms. */
function paperLosses(real: Raw, fake: Raw, kept: Array<keyof Raw>) {
  let LD = 0, LEG = 0;
  for (const k of kept) {
    LD += mean(real[k].map((s) => h(+1 * s))) + mean(fake[k].map((s) => h(-1 * s)));
    LEG += mean(real[k].map((s) => +1 * s)) + mean(fake[k].map((s) => -1 * s));
  }
  return { LD, LEG };
}

describe('losses', () => {
  useBackend('cpu');
  const rng = new Rng(3);
  const draw = (): Raw => ({ s_x: [0, 0, 0, 0, 0].map(() => rng.next() * 6 - 3), s_z: [0, 0, 0, 0, 0].map(() => rng.next() * 6 - 3),
                             s_xz: [0, 0, 0, 0, 0].map(() => rng.next() * 6 - 3) });
  const rows: Array<[string, { unary: 'both' | 'x' | 'z' | 'none'; noEncoder: boolean }, Array<keyof Raw>]> = [
    ['Base', { unary: 'both', noEncoder: false }, ['s_x', 's_z', 's_xz']],
    ['x unary only', { unary: 'x', noEncoder: false }, ['s_x', 's_xz']],
    ['z unary only', { unary: 'z', noEncoder: false }, ['s_z', 's_xz']],
    ['no unaries (BiGAN)', { unary: 'none', noEncoder: false }, ['s_xz']],
    ['no E (plain GAN)', { unary: 'both', noEncoder: true }, ['s_x']],
  ];
  for (const [name, cfg, kept] of rows) {
    test(`${name}: L_D and L_EG equal the paper's sums of separately hinged terms`, () => {
      const real = draw(), fake = draw();
      const expected = paperLosses(real, fake, kept);
      const r = toScores(real), f = toScores(fake);
      const terms = lossTerms(cfg);
      const d = lossD(r, f, terms);
      assert.ok(Math.abs(d.loss.dataSync()[0] - expected.LD) < 1e-5, `L_D ${d.loss.dataSync()[0]} vs ${expected.LD}`);
      assert.equal(Object.keys(d.parts).length, 2 * kept.length);
      const eg = lossEG(r, f, terms).dataSync()[0];
      assert.ok(Math.abs(eg - expected.LEG) < 1e-5, `L_EG ${eg} vs ${expected.LEG}`);
    });
  }

  test('signs: confident correct scores cost D nothing, and E/G gain by raising fake scores and lowering real ones', () => {
    const terms = lossTerms({ unary: 'both', noEncoder: false });
    const high = { s_x: tf.tensor1d([5]), s_z: tf.tensor1d([5]), s_xz: tf.tensor1d([5]) };
    const low = { s_x: tf.tensor1d([-5]), s_z: tf.tensor1d([-5]), s_xz: tf.tensor1d([-5]) };
    assert.equal(lossD(high, low, terms).loss.dataSync()[0], 0);         // real scored high, fake low: no D loss
    assert.equal(lossD(low, high, terms).loss.dataSync()[0], 36);        // 3 terms x (6 + 6)
    assert.ok(lossEG(low, high, terms).dataSync()[0] < lossEG(high, low, terms).dataSync()[0]);
    assert.deepEqual(Array.from(hinge(tf.tensor1d([-1, 0, 1, 2])).dataSync()), [2, 1, 0, 0]);
  });

  test('a missing score that the terms need is one clear error', () => {
    const s = { s_x: tf.tensor1d([1]), s_z: null, s_xz: null };
    assert.throws(() => lossD(s, s, lossTerms({ unary: 'both', noEncoder: false })), /Expected score s_z for the losses/);
  });
});
