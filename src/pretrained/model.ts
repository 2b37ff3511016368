/**
 * DeepMind's released BigBiGAN (Donahue & Simonyan 2019, arXiv:1907.02544),
 * converted to tfjs graph models (signatures.ts has the folder layout), as
 * E, G and D with the kit's tensor conventions: NHWC, pixels in [-1, 1],
 * z ~ N(0, I). E takes images of any size and 1 or 3 channels and resizes
 * them to its own side (256 for the released models, bilinear with
 * half-pixel centres, as feature_net.ts fitInput renders); D's x likewise to
 * G's side (128), which for a 256 image is exactly the 2x2 average pooling
 * the paper feeds D with.
 *
 * Every folder is checked when it is opened: the signature folders, model.json
 * and its weight files (eval/inception.ts readModelFolder), the input names
 * and shapes, the output nodes, and one batch of 2 through each signature
 * whose output shapes must agree (z's size everywhere, G's side = D's side).
 * A folder that does not match is one error naming the file, what is wrong,
 * and what to do.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { fitInput } from '../eval/feature_net';
import { readModelFolder } from '../eval/inception';
import { CONVERT_HINT, SIGNATURE_NAMES, SIGNATURES, SignatureName } from './signatures';

/** E's outputs for a batch [B]: latents [B, zDim] and the two features of the paper's Table 2 (a type, so tf.dispose takes it). */
export type PretrainedEncoding = {
  z_mean: tf.Tensor2D;
  /** z_mean + sigma * eps, eps ~ N(0, I) drawn inside the graph (a new draw every call). */
  z_sample: tf.Tensor2D;
  /** The globally average-pooled last feature map [B, D]. */
  avepool: tf.Tensor2D;
  /** [ReLU(BN(h)), ReLU(-BN(h))] of the pooled feature h: [B, 2D] for the released models. */
  bn_crelu: tf.Tensor2D;
};

/** D's three scores for pairs (x, z), each [B] (s_x, s_z, s_xz of the paper's Eq. 3-5). */
export type PretrainedScores = {
  score_x: tf.Tensor1D;
  score_z: tf.Tensor1D;
  score_xz: tf.Tensor1D;
};

export interface PretrainedBigBiGAN {
  dir: string;
  /** The signatures loaded (loadPretrained's `signatures`). */
  signatures: SignatureName[];
  /** Sides and sizes read from the graphs (null where the signature that fixes them was not loaded). */
  eResolution: number | null;
  gResolution: number | null;
  zDim: number;
  featureDims: { avepool: number; bn_crelu: number } | null;
  /** x [B, H, W, C] in [-1, 1], any size, 1 or 3 channels; the caller disposes the outputs. */
  encode(x: tf.Tensor4D): PretrainedEncoding;
  /** z [B, zDim] -> G(z) [B, R, R, 3] in [-1, 1]. */
  generate(z: tf.Tensor2D): tf.Tensor4D;
  /** x [B, H, W, C] in [-1, 1] (resized to G's side), z [B, zDim]. */
  discriminate(x: tf.Tensor4D, z: tf.Tensor2D): PretrainedScores;
  dispose(): void;
}

/** One signature's graph: its file, the input names as the graph spells them, and their shapes. */
interface OpenSignature {
  name: SignatureName;
  file: string;
  model: tf.GraphModel;
  inputs: Record<string, { key: string; shape: number[] }>;
}

const shown = (shape: readonly number[] | undefined) => `[${(shape ?? []).map((d) => (d < 0 ? '?' : d)).join(', ')}]`;
const baseName = (n: string) => n.replace(/:0$/, '');

/** Opens DIR/<name>/model.json and checks its input names and ranks and its output nodes. */
async function openSignature(dir: string, name: SignatureName): Promise<OpenSignature> {
  const sub = path.join(dir, name);
  const file = path.join(sub, 'model.json');
  if (!fs.existsSync(sub)) {
    throw new Error(`Expected the folder ${sub} (signature '${name}' of a converted BigBiGAN), but it is missing: ${CONVERT_HINT}`);
  }
  let read: Awaited<ReturnType<typeof readModelFolder>>;
  try {
    read = await readModelFolder(sub);
  } catch (e) {
    throw new Error(`${(e as Error).message} (signature '${name}'): ${CONVERT_HINT}`);
  }
  if (!read.graph) throw new Error(`Expected ${file} to be a tfjs graph model, but it is a layers model: ${CONVERT_HINT}`);
  let model: tf.GraphModel;
  try {
    model = await tf.loadGraphModel({ load: async () => read.artifacts });
  } catch (e) {
    throw new Error(`Expected ${file} to load as a tfjs graph model, but loading failed (${(e as Error).message}): ${CONVERT_HINT}`);
  }
  try {
    const spec = SIGNATURES[name];
    const graphInputs = model.inputs.map((t) => ({ key: t.name, name: baseName(t.name), shape: t.shape ?? [] }));
    const expected = spec.inputs.map((s) => s.name);
    const listed = graphInputs.map((t) => `'${t.name}' ${shown(t.shape)}`).join(', ');
    const wrongName = graphInputs.find((t) => !expected.includes(t.name));
    const missing = expected.find((n) => !graphInputs.some((t) => t.name === n));
    if (missing !== undefined || wrongName !== undefined) {
      throw new Error(`Expected ${file} to have the inputs ${expected.map((n) => `'${n}'`).join(' and ')} of signature '${name}', ` +
        `but it has ${listed || 'none'}: ${CONVERT_HINT}`);
    }
    const inputs: OpenSignature['inputs'] = {};
    for (const s of spec.inputs) {
      const t = graphInputs.find((g) => g.name === s.name)!;
      if (t.shape.length !== s.rank) {
        throw new Error(`Expected input '${s.name}' of ${file} to have rank ${s.rank} (batch first), ` +
          `but its shape is ${shown(t.shape)}: ${CONVERT_HINT}`);
      }
      inputs[s.name] = { key: t.key, shape: t.shape };
    }
    const nodes = new Set(read.nodes);
    const absent = spec.outputs.find((o) => !nodes.has(o.name));
    if (absent !== undefined) {
      throw new Error(`Expected ${file} to have an output node named '${absent.name}' (signature '${name}'), but the graph has none ` +
        `(its outputs: ${model.outputs.map((o) => o.name).join(', ')}): ${CONVERT_HINT}`);
    }
    return { name, file, model, inputs };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** The fixed side of a square RGB image input [?, S, S, 3], or one error. */
function imageSide(sig: OpenSignature, input: string): number {
  const [, h, w, c] = sig.inputs[input].shape;
  if (!(h > 0 && h === w && c === 3)) {
    throw new Error(`Expected input '${input}' of ${sig.file} to have shape [batch, S, S, 3] (square RGB of a fixed side), ` +
      `but it has ${shown(sig.inputs[input].shape)}: ${CONVERT_HINT}`);
  }
  return h;
}

/** The fixed size of a latent input [?, Z], or one error. */
function latentSize(sig: OpenSignature): number {
  const z = sig.inputs.z.shape[1];
  if (!(z > 0)) {
    throw new Error(`Expected input 'z' of ${sig.file} to have shape [batch, Z] with a fixed Z, but it has ${shown(sig.inputs.z.shape)}: ` +
      CONVERT_HINT);
  }
  return z;
}

/** Runs `sig` on `feeds` for `outputs`, as one error naming the file if the graph cannot run. */
function execute(sig: OpenSignature, feeds: Record<string, tf.Tensor>, outputs: string[]): tf.Tensor[] {
  const named: tf.NamedTensorMap = {};
  for (const [k, t] of Object.entries(feeds)) named[sig.inputs[k].key] = t;
  try {
    const out = sig.model.execute(named, outputs);
    return Array.isArray(out) ? out : [out];  // one output comes back bare
  } catch (e) {
    const given = Object.entries(feeds).map(([k, t]) => `${k} ${shown(t.shape)}`).join(', ');
    throw new Error(`Expected ${sig.file} to run on inputs ${given}, but it failed: ${(e as Error).message}`);
  }
}

/** Checks every output of one run on a batch of 2 against `expected` (null: any positive size on that axis). */
function checkShapes(sig: OpenSignature, got: tf.Tensor[], expected: Array<Array<number | null>>): void {
  SIGNATURES[sig.name].outputs.forEach((o, i) => {
    const shape = got[i].shape;
    const ok = shape.length === expected[i].length && expected[i].every((d, k) => (d === null ? shape[k] > 0 : shape[k] === d));
    if (!ok) {
      const want = `[${expected[i].map((d) => d ?? 'D').join(', ')}]`;
      throw new Error(`Expected output '${o.name}' of ${sig.file} to have shape ${want} for a batch of 2, ` +
        `but it has ${shown(shape)}: ${CONVERT_HINT}`);
    }
  });
}

/** Options of loadPretrained. */
export interface PretrainedOptions {
  /** The signatures to open; default all three (the probe needs only encode, pictures also generate). */
  signatures?: SignatureName[];
}

/**
 * The converted BigBiGAN in `dir` (signatures.ts: `dir/{encode,generate,discriminate}/model.json`).
 * A missing signature folder, a malformed or truncated model, a wrong input
 * name or shape, a missing output, or sizes that disagree between signatures
 * is one error naming the file.
 */
export async function loadPretrained(dir: string, opts: PretrainedOptions = {}): Promise<PretrainedBigBiGAN> {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`Expected a folder holding a converted BigBiGAN (encode/, generate/, discriminate/) at ${dir}, ` +
      `but there is none: ${CONVERT_HINT}`);
  }
  const names = SIGNATURE_NAMES.filter((n) => (opts.signatures ?? SIGNATURE_NAMES).includes(n));
  if (names.length === 0) throw new Error(`Expected signatures among ${SIGNATURE_NAMES.join(', ')}, but got none`);
  const open: Partial<Record<SignatureName, OpenSignature>> = {};
  const release = () => { for (const s of Object.values(open)) s.model.dispose(); };
  try {
    for (const n of names) open[n] = await openSignature(dir, n);
    return assemble(dir, names, open);
  } catch (e) {
    release();
    throw e;
  }
}

/** The sizes every loaded signature must agree on, checked by one batch of 2 through each; then the model. */
function assemble(dir: string, names: SignatureName[],
                  open: Partial<Record<SignatureName, OpenSignature>>): PretrainedBigBiGAN {
  const { encode: enc, generate: gen, discriminate: dis } = open;
  const zSizes = [gen, dis].filter((s): s is OpenSignature => s !== undefined).map((s) => ({ s, z: latentSize(s) }));
  const eResolution = enc ? imageSide(enc, 'x') : null;
  const dSide = dis ? imageSide(dis, 'x') : null;
  let zDim: number | null = zSizes[0]?.z ?? null;
  const other = zSizes.find((q) => q.z !== zDim);
  if (other !== undefined) {
    throw new Error(`Expected input 'z' of ${other.s.file} to have size ${zDim} like ${zSizes[0].s.file}, but it has ${other.z}: ` +
      CONVERT_HINT);
  }
  let featureDims: PretrainedBigBiGAN['featureDims'] = null;
  if (enc) {
    const out = tf.tidy(() => execute(enc, { x: tf.zeros([2, eResolution!, eResolution!, 3]) },
                                      SIGNATURES.encode.outputs.map((o) => o.name)));
    try {
      zDim ??= out[0].shape[1] ?? 0;
      checkShapes(enc, out, [[2, zDim], [2, zDim], [2, null], [2, null]]);
      featureDims = { avepool: out[2].shape[1] ?? 0, bn_crelu: out[3].shape[1] ?? 0 };
    } finally {
      tf.dispose(out);
    }
  }
  let gResolution: number | null = dSide;
  if (gen) {
    const out = tf.tidy(() => execute(gen, { z: tf.zeros([2, zDim!]) }, ['default']));
    try {
      gResolution ??= out[0].shape[1] ?? 0;
      checkShapes(gen, out, [[2, gResolution, gResolution, 3]]);
    } finally {
      tf.dispose(out);
    }
  }
  if (dis) {
    const out = tf.tidy(() => execute(dis, { x: tf.zeros([2, dSide!, dSide!, 3]), z: tf.zeros([2, zDim!]) },
                                      SIGNATURES.discriminate.outputs.map((o) => o.name)));
    try {
      checkShapes(dis, out, [[2], [2], [2]]);
    } finally {
      tf.dispose(out);
    }
  }
  const need = (sig: OpenSignature | undefined, what: SignatureName): OpenSignature => {
    if (sig === undefined) {
      throw new Error(`Expected the '${what}' signature to be loaded from ${dir}, but loadPretrained was given ${names.join(', ')}`);
    }
    return sig;
  };
  return {
    dir, signatures: names, eResolution, gResolution, zDim: zDim!, featureDims,
    encode: (x) => {
      const sig = need(enc, 'encode');
      return tf.tidy(() => {
        const input = fitInput(x, eResolution!, eResolution!, 3, false, `E of ${dir}`);
        const names = SIGNATURES.encode.outputs.map((o) => o.name);
        const [z_mean, z_sample, avepool, bn_crelu] = execute(sig, { x: input }, names) as tf.Tensor2D[];
        return { z_mean, z_sample, avepool, bn_crelu };
      });
    },
    generate: (z) => tf.tidy(() => execute(need(gen, 'generate'), { z }, ['default'])[0] as tf.Tensor4D),
    discriminate: (x, z) => {
      const sig = need(dis, 'discriminate');
      return tf.tidy(() => {
        const [score_x, score_z, score_xz] = execute(sig, { x: fitInput(x, dSide!, dSide!, 3, false, `D of ${dir}`), z },
                                                     SIGNATURES.discriminate.outputs.map((o) => o.name)) as tf.Tensor1D[];
        return { score_x, score_z, score_xz };
      });
    },
    dispose: () => { for (const s of Object.values(open)) s.model.dispose(); },
  };
}
