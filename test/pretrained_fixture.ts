/**
 * A converted-BigBiGAN folder of the released format (src/pretrained/signatures.ts) at toy sizes: one real
 * tfjs graph model per signature (model.json with a hand-built GraphDef and a weights file split in two shards),
 * with the released modules' input and output names and ranks. E sees 16x16, G makes 8x8, z has 6 entries.
 * Also a tiny image folder with train/ and val/ of two colour classes. For trying the CLI by hand:
 * `node scripts/pretrained-fixture.js OUT` (after a build).
 */
import * as fs from 'fs';
import * as path from 'path';
import { encodePng } from '../src/util/png';

export const FIXTURE = { eSide: 16, gSide: 8, zDim: 6, avepool: 8, bnCrelu: 16, eps: 1e-3 } as const;

/** A weight: its shape and values (float32, or int32 for axes and shapes). */
export interface FixtureWeight {
  shape: number[];
  data: Float32Array | Int32Array;
}
export type FixtureWeights = Record<string, FixtureWeight>;

type Attr = Record<string, unknown>;
interface GraphNode { name: string; op: string; input: string[]; attr: Attr }

const FLOAT = { type: 'DT_FLOAT' };
const T = { T: FLOAT };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const dims = (shape: number[]) => ({ dim: shape.map((size) => ({ size: String(size) })) });

/** Deterministic weights in [-scale, scale]: a different sequence per name. */
function values(name: string, n: number, scale: number): Float32Array {
  let h = 0;
  for (const c of name) h = (h * 31 + c.charCodeAt(0)) % 1000;
  return Float32Array.from({ length: n }, (_, i) => Math.sin((i + 1) * 12.9898 + h * 78.233) * scale);
}

/** Builds one graph: nodes plus the Const weights behind them. */
class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly weights: FixtureWeights = {};

  node(name: string, op: string, input: string[], attr: Attr = T): string {
    this.nodes.push({ name, op, input, attr });
    return name;
  }
  placeholder(name: string, shape: number[]): string {
    return this.node(name, 'Placeholder', [], { dtype: FLOAT, shape: { shape: dims(shape) } });
  }
  constant(name: string, shape: number[], data: Float32Array | Int32Array): string {
    const dtype = data instanceof Int32Array ? 'DT_INT32' : 'DT_FLOAT';
    this.weights[name] = { shape, data };
    return this.node(name, 'Const', [], { dtype: { type: dtype }, value: { tensor: { dtype, tensorShape: dims(shape) } } });
  }
  param(name: string, shape: number[], scale: number): string {
    return this.constant(name, shape, values(name, shape.reduce((a, d) => a * d, 1), scale));
  }
  conv(name: string, x: string, shape: number[], stride: number): string {
    const w = this.param(`${name}/w`, shape, 0.6);
    const y = this.node(`${name}/conv`, 'Conv2D', [x, w], {
      ...T, strides: ints([1, stride, stride, 1]), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') },
      dilations: ints([1, 1, 1, 1]) });
    return this.node(`${name}/bias`, 'BiasAdd', [y, this.param(`${name}/b`, [shape[3]], 0.1)]);
  }
  dense(name: string, x: string, shape: number[]): string {
    const y = this.node(`${name}/matmul`, 'MatMul', [x, this.param(`${name}/w`, shape, 0.5)],
                        { ...T, transpose_a: { b: false }, transpose_b: { b: false } });
    return this.node(`${name}/bias`, 'BiasAdd', [y, this.param(`${name}/b`, [shape[1]], 0.1)]);
  }
  mean(name: string, x: string): string {
    return this.node(name, 'Mean', [x, this.constant(`${name}/axes`, [2], Int32Array.from([1, 2]))],
                     { ...T, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } });
  }
  concat(name: string, a: string, b: string): string {
    return this.node(name, 'ConcatV2', [a, b, this.constant(`${name}/axis`, [], Int32Array.from([1]))],
                     { ...T, N: { i: '2' }, Tidx: { type: 'DT_INT32' } });
  }
  reshape(name: string, x: string, shape: number[]): string {
    return this.node(name, 'Reshape', [x, this.constant(`${name}/shape`, [shape.length], Int32Array.from(shape))],
                     { ...T, Tshape: { type: 'DT_INT32' } });
  }
  resize(name: string, x: string, side: number): string {
    return this.node(name, 'ResizeNearestNeighbor', [x, this.constant(`${name}/size`, [2], Int32Array.from([side, side]))],
                     { ...T, align_corners: { b: false }, half_pixel_centers: { b: false } });
  }
  output(name: string, x: string): string {
    return this.node(name, 'Identity', [x]);
  }
}

/** E: conv (stride 2) -> batch norm -> ReLU -> conv -> ReLU -> mean pool; BN+CReLU, z_mean, softplus sigma, z_sample. */
function encodeGraph(): GraphBuilder {
  const g = new GraphBuilder();
  const { eSide, zDim, avepool } = FIXTURE;
  const x = g.placeholder('x', [-1, eSide, eSide, 3]);
  const c1 = g.conv('e/conv1', x, [3, 3, 3, 4], 2);
  const bn = g.node('e/bn1', 'FusedBatchNormV3', [c1, ...['scale', 'offset', 'mean', 'variance'].map((p) =>
    g.constant(`e/bn1/${p}`, [4], p === 'variance' ? Float32Array.from([0.5, 1, 1.5, 2]) : values(`e/bn1/${p}`, 4, 0.5)))],
  { ...T, U: FLOAT, epsilon: { f: FIXTURE.eps }, data_format: { s: b64('NHWC') }, is_training: { b: false } });
  const h1 = g.node('e/relu1', 'Relu', [bn]);
  const h2 = g.node('e/relu2', 'Relu', [g.conv('e/conv2', h1, [3, 3, 4, avepool], 1)]);
  const pool = g.output('avepool_feat', g.mean('e/pool', h2));
  const affine = g.node('e/bn2/add', 'AddV2', [g.node('e/bn2/mul', 'Mul', [pool, g.param('e/bn2/gain', [avepool], 1)]),
                                              g.param('e/bn2/shift', [avepool], 0.2)]);
  g.output('bn_crelu_feat', g.concat('e/crelu', g.node('e/crelu/pos', 'Relu', [affine]),
                                     g.node('e/crelu/neg', 'Relu', [g.node('e/crelu/minus', 'Neg', [affine])])));
  const zMean = g.output('z_mean', g.dense('e/mu', pool, [avepool, zDim]));
  const sigma = g.output('z_stdev', g.node('e/softplus', 'Softplus', [g.dense('e/sigma', pool, [avepool, zDim])]));
  const eps = g.node('e/eps', 'RandomStandardNormal', [g.node('e/shape', 'Shape', [zMean], { T: FLOAT, out_type: { type: 'DT_INT32' } })],
                     { T: { type: 'DT_INT32' }, dtype: FLOAT, seed: { i: '0' }, seed2: { i: '0' } });
  const zSample = g.output('z_sample', g.node('e/z', 'AddV2', [zMean, g.node('e/noise', 'Mul', [eps, sigma])]));
  g.output('default', zSample);
  return g;
}

/** G: dense to 4x4x8 -> ReLU -> nearest 2x up -> conv -> tanh; `upsampled` at E's side. */
function generateGraph(): GraphBuilder {
  const g = new GraphBuilder();
  const { gSide, eSide, zDim } = FIXTURE;
  const z = g.placeholder('z', [-1, zDim]);
  const h = g.node('g/relu', 'Relu', [g.reshape('g/reshape', g.dense('g/fc', z, [zDim, 4 * 4 * 8]), [-1, 4, 4, 8])]);
  const up = g.resize('g/up', h, gSide);
  const image = g.output('default', g.node('g/tanh', 'Tanh', [g.conv('g/conv', up, [3, 3, 8, 3], 1)]));
  g.output('upsampled', g.resize('g/upsampled', image, eSide));
  return g;
}

/** D: F (conv, ReLU, mean pool), H (dense, ReLU), J (dense on [F, H], ReLU), three linear scores. */
function discriminateGraph(): GraphBuilder {
  const g = new GraphBuilder();
  const { gSide, zDim } = FIXTURE;
  const x = g.placeholder('x', [-1, gSide, gSide, 3]);
  const z = g.placeholder('z', [-1, zDim]);
  const f = g.mean('d/F/pool', g.node('d/F/relu', 'Relu', [g.conv('d/F/conv', x, [3, 3, 3, 4], 2)]));
  const hz = g.node('d/H/relu', 'Relu', [g.dense('d/H/fc', z, [zDim, 4])]);
  const j = g.node('d/J/relu', 'Relu', [g.dense('d/J/fc', g.concat('d/J/concat', f, hz), [8, 4])]);
  for (const [name, input] of [['score_x', f], ['score_z', hz], ['score_xz', j]]) {
    g.output(name, g.reshape(`d/${name}/flat`, g.dense(`d/${name}`, input, [4, 1]), [-1]));
  }
  return g;
}

export const FIXTURE_GRAPHS = { encode: encodeGraph, generate: generateGraph, discriminate: discriminateGraph };

/** Writes `g` as dir/model.json and two weight shards; returns its weights. */
function writeGraphModel(dir: string, g: GraphBuilder): FixtureWeights {
  fs.mkdirSync(dir, { recursive: true });
  const entries = Object.entries(g.weights);
  const bytes = Buffer.concat(entries.map(([, w]) => Buffer.from(w.data.buffer, w.data.byteOffset, w.data.byteLength)));
  // Two shards as the converter splits large models: equal ones and a shorter last (tfjs reads a longer last one wrongly).
  const half = Math.ceil(bytes.length / 8) * 4;
  fs.writeFileSync(path.join(dir, 'group1-shard1of2.bin'), bytes.subarray(0, half));
  fs.writeFileSync(path.join(dir, 'group1-shard2of2.bin'), bytes.subarray(half));
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify({
    format: 'graph-model', generatedBy: 'test/pretrained_fixture.ts', convertedBy: null,
    modelTopology: { node: g.nodes, library: {}, versions: { producer: 1 } },
    weightsManifest: [{
      paths: ['group1-shard1of2.bin', 'group1-shard2of2.bin'],
      weights: entries.map(([name, w]) => ({ name, shape: w.shape, dtype: w.data instanceof Int32Array ? 'int32' : 'float32' })),
    }],
  }, null, 1));
  return g.weights;
}

/** Writes the three signature folders under `dir`; returns each one's weights (for an independent recomputation). */
export function writePretrainedFixture(dir: string): Record<keyof typeof FIXTURE_GRAPHS, FixtureWeights> {
  return {
    encode: writeGraphModel(path.join(dir, 'encode'), encodeGraph()),
    generate: writeGraphModel(path.join(dir, 'generate'), generateGraph()),
    discriminate: writeGraphModel(path.join(dir, 'discriminate'), discriminateGraph()),
  };
}

/**
 * An image folder `dir/{train,val}/{red,blue}/*.png` of `perClass` train and
 * `perClass / 2` val images per class, `side` x `side`, non-square every third
 * image (E's input is resized from any size): reddish or bluish noise.
 */
export function writeColourFolder(dir: string, perClass: number, side = 12): void {
  let seed = 1;
  const noise = () => { seed = (seed * 16807) % 2147483647; return seed / 2147483647; };
  for (const [split, n] of [['train', perClass], ['val', Math.max(1, perClass >> 1)]] as const) {
    for (const [cls, channel] of [['blue', 2], ['red', 0]] as const) {
      fs.mkdirSync(path.join(dir, split, cls), { recursive: true });
      for (let i = 0; i < n; i++) {
        const w = i % 3 === 2 ? side + 4 : side;
        const pixels = Uint8Array.from({ length: w * side * 3 }, (_, k) => Math.round(noise() * 120 + (k % 3 === channel ? 120 : 0)));
        fs.writeFileSync(path.join(dir, split, cls, `${String(i).padStart(3, '0')}.png`), encodePng(pixels, w, side, 3));
      }
    }
  }
}
