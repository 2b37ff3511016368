/**
 * What a converted BigBiGAN folder must hold: DeepMind's released TF-Hub
 * modules (deepmind/bigbigan-resnet50/1 and bigbigan-revnet50x4/1; Donahue &
 * Simonyan 2019, arXiv:1907.02544) have three signatures, each converted to
 * one tfjs graph model in a sub-folder of its name:
 *
 *     models/bigbigan-resnet50/encode/model.json         (+ group1-shard*.bin)
 *     models/bigbigan-resnet50/generate/model.json
 *     models/bigbigan-resnet50/discriminate/model.json
 *
 * Inputs and outputs, as the modules' get_input_info_dict /
 * get_output_info_dict list them (the official "bigbigan_with_tf_hub" colab;
 * shapes of the ResNet-50 module):
 *   encode       x [N, 256, 256, 3] in [-1, 1]  -> z_mean, z_sample, z_stdev, default [N, 120],
 *                                                 avepool_feat [N, 2048], bn_crelu_feat [N, 4096]
 *   generate     z [N, 120] ~ N(0, I)           -> default [N, 128, 128, 3] in [-1, 1], upsampled [N, 256, 256, 3]
 *   discriminate x [N, 128, 128, 3], z [N, 120] -> score_x, score_z, score_xz [N]
 * The converter keeps the placeholders' names (x, z), but not the output keys
 * of a TF1 hub module (its signature then lists internal tensor names), so
 * scripts/convert_bigbigan.py names each output node after its key before
 * converting. The kit checks names and ranks, and that the sizes agree with
 * each other (z's size, G's output side = D's input side); not the released
 * sizes themselves, so that a small test fixture of the same format loads too.
 */

export type SignatureName = 'encode' | 'generate' | 'discriminate';
export const SIGNATURE_NAMES: readonly SignatureName[] = ['encode', 'generate', 'discriminate'];

/** A named input or output and its rank (the batch is the first axis). */
export interface TensorSpec {
  name: string;
  rank: number;
}

export interface SignatureSpec {
  inputs: TensorSpec[];
  /** The outputs the kit uses (a module's other outputs, e.g. z_stdev or upsampled, are allowed and ignored). */
  outputs: TensorSpec[];
}

/** The signatures the kit reads, with the released modules' input and output names. */
export const SIGNATURES: Record<SignatureName, SignatureSpec> = {
  encode: {
    inputs: [{ name: 'x', rank: 4 }],
    outputs: [{ name: 'z_mean', rank: 2 }, { name: 'z_sample', rank: 2 }, { name: 'avepool_feat', rank: 2 },
              { name: 'bn_crelu_feat', rank: 2 }],
  },
  generate: { inputs: [{ name: 'z', rank: 2 }], outputs: [{ name: 'default', rank: 4 }] },
  discriminate: {
    inputs: [{ name: 'x', rank: 4 }, { name: 'z', rank: 2 }],
    outputs: [{ name: 'score_x', rank: 1 }, { name: 'score_z', rank: 1 }, { name: 'score_xz', rank: 1 }],
  },
};

/** What to do about a folder that does not match: the sentence every loader error ends with. */
export const CONVERT_HINT = "convert the TF-Hub module again with scripts/convert_bigbigan.py (README, 'The released BigBiGAN')";

/**
 * The paper's linear-probe figures of the released models on ImageNet's
 * validation set, top-1 / top-5 % (arXiv:1907.02544, Table 2): what a user
 * should see with the real weights and the full ImageNet train / val folders.
 */
export const PAPER_TABLE2 = [
  { encoder: 'ResNet-50', feature: 'avepool', top1: 55.4, top5: 77.4 },
  { encoder: 'ResNet-50', feature: 'bn_crelu', top1: 56.6, top5: 78.6 },
  { encoder: 'RevNet-50x4', feature: 'avepool', top1: 60.8, top5: 81.4 },
  { encoder: 'RevNet-50x4', feature: 'bn_crelu', top1: 61.3, top5: 81.9 },
] as const;
