/**
 * A correct ResizeNearestNeighborGrad for tfjs's pure-JS `cpu` backend (G's
 * 2x upsampling, src/model/layers.ts `upsample2x`, differentiates through it).
 *
 * tfjs-backend-cpu 4.22's kernel reads dy at `b · H·W·C + …` (the images'
 * batch stride) instead of `b · H'·W'·C`: every image after the first gets
 * the gradient of the wrong part of dy (exact at batch 1; errors of several
 * units at batch 2). It also ignores `halfPixelCenters`. Here each dy element
 * is added to the pixel the forward kernel copied it from, with the forward
 * kernel's own index arithmetic (tfjs-backend-cpu ResizeNearestNeighbor.ts).
 */
import * as tf from '@tensorflow/tfjs';

interface CpuBackend extends tf.KernelBackend {
  data: { get(dataId: object): { values: ArrayLike<number> } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

/**
 * For each of `outSize` output rows (or columns), the input row the forward
 * resize copies: as tfjs-backend-cpu's ResizeNearestNeighbor computes it.
 */
export function nearestSources(inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): Int32Array {
  const ratio = (alignCorners && outSize > 1 ? inSize - 1 : inSize) / (alignCorners && outSize > 1 ? outSize - 1 : outSize);
  const out = new Int32Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const frac = halfPixelCenters ? ratio * (o + 0.5) : ratio * o;
    const nearest = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    out[o] = halfPixelCenters ? Math.max(0, nearest) : nearest;
  }
  return out;
}

/** dx[b, rows[i], cols[j], c] += dy[b, i, j, c]: images [B, H, W, C], dy [B, H', W', C] -> dx like images. */
function resizeNearestNeighborGrad(
  args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const { images, dy } = args.inputs as { images: tf.TensorInfo; dy: tf.TensorInfo };
  const { alignCorners, halfPixelCenters } = args.attrs as unknown as tf.ResizeNearestNeighborAttrs;
  const backend = args.backend as CpuBackend;
  const [B, H, W, C] = images.shape, [, Hy, Wy] = dy.shape;
  const rows = nearestSources(H, Hy, alignCorners, halfPixelCenters ?? false);
  const cols = nearestSources(W, Wy, alignCorners, halfPixelCenters ?? false);
  const g = backend.data.get(dy.dataId).values, dx = new Float32Array(B * H * W * C);
  let k = 0;  // dy is read in order
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Hy; i++) {
      const rowBase = (b * H + rows[i]) * W;
      for (let j = 0; j < Wy; j++) {
        const base = (rowBase + cols[j]) * C;
        for (let c = 0; c < C; c++) dx[base + c] += g[k++];
      }
    }
  }
  return backend.makeTensorInfo(images.shape, images.dtype, dx);
}

/** tfjs-backend-cpu's own kernel, kept for the test that shows it is wrong. */
export let upstreamCpuResizeGrad: tf.KernelConfig | undefined;

/** Registers the kernel above on the cpu backend in place of tfjs's (idempotent; works before or after cpu starts). */
export function registerCpuResizeGrad(): void {
  const existing = tf.getKernel('ResizeNearestNeighborGrad', 'cpu');
  if (existing?.kernelFunc === resizeNearestNeighborGrad) return;
  if (existing != null) {
    upstreamCpuResizeGrad ??= existing;
    tf.unregisterKernel('ResizeNearestNeighborGrad', 'cpu');
  }
  tf.registerKernel({
    kernelName: 'ResizeNearestNeighborGrad', backendName: 'cpu', kernelFunc: resizeNearestNeighborGrad as tf.KernelFunc,
  });
}
