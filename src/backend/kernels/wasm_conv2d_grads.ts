/**
 * The two gradients of conv2d for the tfjs wasm backend.
 *
 * tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel (so conv
 * layers cannot be trained on it at all), and its `Conv2DBackpropInput`
 * runs 6-15x slower than the forward conv of the same size (measured with
 * scratch benchmarks on bench32 shapes: 420-1010 ms against 42-68 ms).
 * Both are rewritten here in terms of the backend's fast XNNPACK kernels:
 *
 *   dW = im2col(x)^T · dy      one GEMM [KH·KW·CI, M] x [M, CO], M = B·OH·OW
 *   dx = conv2d(dilate(dy), rot180(W)^T)   one forward conv, stride 1
 *
 * The im2col matrix is written by a JS loop straight into the wasm heap from
 * a channel-major copy of x (rows of it are contiguous runs), which is
 * several times faster than building it from slice/concat ops.
 *
 * Kernels call other kernels' functions directly (as tfjs's own kernels do),
 * never tf ops, and free every intermediate with `backend.disposeData` (wasm_util.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { callKernel, KernelArgs, replaceWasmKernel, TensorInfo, view, WasmBackend } from './wasm_util';

import { registerWasmOptimKernels } from './wasm_optim';
import { registerWasmFastKernels } from './wasm_fast_kernels';

export { replacedWasmKernels } from './wasm_util';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

function convInfoOf(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap): Conv2DInfo {
  const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`Expected dataFormat NHWC in the wasm conv2d gradients, but got ${dataFormat}`);
  }
  return tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number], filterShape as [number, number, number, number],
      strides, 1, pad, dimRoundingMode, false, 'channelsLast');
}

/**
 * Fills `cols` ([KH·KW·CI, B·OH·OW], row r = (kh·KW + kw)·CI + c) from `xT`
 * (x transposed to [CI, B, H, W]): cols[r, (b, oh, ow)] = x[b, oh·s + kh - top, ow·s + kw - left, c],
 * zero where that position falls in the padding.
 */
export function im2colTransposed(xT: Float32Array, cols: Float32Array, info: Conv2DInfo): void {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW,
          filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const M = B * OH * OW;
  if (sh === 1 && sw === 1 && OW === W && KW <= W) {  // |kw - left| < W: a shift never skips a whole row
    im2colShifted(xT, cols, info);
    return;
  }
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      // Output columns ow whose input column iw = ow·sw + kw - left is inside [0, W).
      const owStart = Math.max(0, Math.ceil((left - kw) / sw));
      const owEnd = Math.min(OW, Math.floor((W - 1 + left - kw) / sw) + 1);
      for (let c = 0; c < CI; c++) {
        const row = ((kh * KW + kw) * CI + c) * M;
        for (let b = 0; b < B; b++) {
          const plane = (c * B + b) * H * W;
          for (let oh = 0; oh < OH; oh++) {
            const dst = row + (b * OH + oh) * OW;
            const ih = oh * sh + kh - top;
            if (ih < 0 || ih >= H || owEnd <= owStart) {
              cols.fill(0, dst, dst + OW);
              continue;
            }
            if (owStart > 0) cols.fill(0, dst, dst + owStart);
            if (owEnd < OW) cols.fill(0, dst + owEnd, dst + OW);
            let src = plane + ih * W + owStart * sw + kw - left;
            if (sw === 1) {
              for (let ow = owStart; ow < owEnd; ow++) cols[dst + ow] = xT[src++];
            } else {
              for (let ow = owStart; ow < owEnd; ow++, src += sw) cols[dst + ow] = xT[src];
            }
          }
        }
      }
    }
  }
}

/**
 * im2colTransposed for stride 1 when output rows are as wide as input rows
 * ('same' padding): each (tap, channel, image) block of cols is the input plane
 * shifted by (kh - top, kw - left), so it is one bulk copy, then zeros where
 * the shift crossed a row's edge or left the plane.
 */
function im2colShifted(xT: Float32Array, cols: Float32Array, info: Conv2DInfo): void {
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, filterHeight: KH, filterWidth: KW } = info;
  const plane = H * W, M = B * OH * W;
  for (let kh = 0; kh < KH; kh++) {
    const dy = kh - info.padInfo.top;
    const ohStart = Math.max(0, -dy), ohEnd = Math.min(OH, H - dy);  // output rows that read inside the plane
    for (let kw = 0; kw < KW; kw++) {
      const dx = kw - info.padInfo.left;
      for (let c = 0; c < CI; c++) {
        const row = ((kh * KW + kw) * CI + c) * M;
        for (let b = 0; b < B; b++) {
          const dst = row + b * OH * W, srcPlane = (c * B + b) * plane;
          if (ohEnd <= ohStart) {
            cols.fill(0, dst, dst + OH * W);
            continue;
          }
          cols.fill(0, dst, dst + ohStart * W);
          cols.fill(0, dst + ohEnd * W, dst + OH * W);
          // Output (oh, ow) reads input (oh + dy, ow + dx): one contiguous run, clamped to xT.
          let from = srcPlane + (ohStart + dy) * W + dx, to = from + (ohEnd - ohStart) * W;
          let at = dst + ohStart * W;
          if (from < 0) { at -= from; from = 0; }
          to = Math.min(to, xT.length);
          cols.set(xT.subarray(from, to), at);
          // Columns whose input ow + dx fell off the row's edge read the neighbour row: zero them
          // (element by element: one fill() call per row cost more than the copy).
          const edge = dx > 0 ? W - dx : 0, edgeEnd = dx > 0 ? W : -dx;
          for (let oh = ohStart; oh < ohEnd; oh++) {
            const base = dst + oh * W;
            for (let j = edge; j < edgeEnd; j++) cols[base + j] = 0;
          }
        }
      }
    }
  }
}

/** dW[kh, kw, ci, co] = Σ_{b, oh, ow} x[b, oh·s + kh - top, ow·s + kw - left, ci] · dy[b, oh, ow, co]. */
function conv2DBackpropFilter(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as tf.NamedAttrMap;
  const filterShape = (attrs as unknown as tf.Conv2DBackpropFilterAttrs).filterShape;
  const info = convInfoOf(x.shape, filterShape, attrs);
  const K = info.filterHeight * info.filterWidth * info.inChannels;
  const M = info.batchSize * info.outHeight * info.outWidth;

  const xT = callKernel('Transpose', { x }, { perm: [3, 0, 1, 2] }, backend);  // [CI, B, H, W]
  let cols = view(xT, [K, M]);  // a 1x1, stride-1 conv: im2col(x)ᵀ is xᵀ itself
  if (K !== info.inChannels || M !== x.shape[0] * x.shape[1] * x.shape[2]) {
    cols = backend.makeOutput([K, M], 'float32');
    // Views are taken after the last allocation: a heap growth would detach them.
    im2colTransposed(backend.typedArrayFromHeap(xT), backend.typedArrayFromHeap(cols), info);
    backend.disposeData(xT.dataId);
  }

  const dW = callKernel('BatchMatMul', { a: cols, b: view(dy, [M, info.outChannels]) },
                        { transposeA: false, transposeB: false }, backend);  // [1, K, CO]
  backend.disposeData(cols.dataId);
  dW.shape = filterShape.slice();
  return dW;
}

/**
 * dx = conv2d(dy dilated by the stride, W rotated 180° with in/out channels swapped),
 * stride 1, padded so that output row ih sees dy rows (ih + top - kh)/s.
 */
function conv2DBackpropInput(args: KernelArgs): TensorInfo {
  const backend = args.backend as WasmBackend;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as tf.NamedAttrMap;
  const inputShape = (attrs as unknown as tf.Conv2DBackpropInputAttrs).inputShape;
  const info = convInfoOf(inputShape, filter.shape, attrs);
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: CI, outHeight: OH, outWidth: OW,
          outChannels: CO, filterHeight: KH, filterWidth: KW, strideHeight: sh, strideWidth: sw } = info;

  // rot180(W) with channels swapped: [KH, KW, CO, CI].
  const reversed = callKernel('Reverse', { x: filter }, { dims: [0, 1] }, backend);
  const rotated = callKernel('Transpose', { x: reversed }, { perm: [0, 1, 3, 2] }, backend);
  backend.disposeData(reversed.dataId);

  // dy with s-1 zeros between rows/columns: [B, (OH-1)·sh + 1, (OW-1)·sw + 1, CO].
  const DH = (OH - 1) * sh + 1, DW = (OW - 1) * sw + 1;
  let dilated = dy;
  if (sh > 1 || sw > 1) {
    dilated = backend.makeOutput([B, DH, DW, CO], 'float32');
    const src = backend.typedArrayFromHeap(dy), dst = backend.typedArrayFromHeap(dilated);
    dst.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const s = ((b * OH + oh) * OW + ow) * CO, d = ((b * DH + oh * sh) * DW + ow * sw) * CO;
          dst.set(src.subarray(s, s + CO), d);
        }
      }
    }
  }

  // Output row ih needs dilated rows ih + top - (KH-1) .. ih + top; rows past the
  // dilated end are zero padding, rows never reached are cropped off below.
  const padTop = KH - 1 - info.padInfo.top, padLeft = KW - 1 - info.padInfo.left;
  const padBottom = Math.max(0, H + KH - 1 - DH - padTop);
  const padRight = Math.max(0, W + KW - 1 - DW - padLeft);
  let dx = callKernel('Conv2D', { x: dilated, filter: rotated },
                      { strides: [1, 1], dilations: [1, 1], dataFormat: 'NHWC',
                        pad: [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]] }, backend);
  backend.disposeData(rotated.dataId);
  if (dilated !== dy) backend.disposeData(dilated.dataId);
  if (dx.shape[1] !== H || dx.shape[2] !== W) {
    const full = dx;
    dx = callKernel('Slice', { x: full }, { begin: [0, 0, 0, 0], size: [B, H, W, CI] }, backend);
    backend.disposeData(full.dataId);
  }
  return dx;
}

/**
 * Registers every wasm kernel of the kit (idempotent): the conv2d gradients of
 * this file, the faster kernels of wasm_fast_kernels.ts and the fused Adam and
 * EMA updates of wasm_optim.ts. Call before training on wasm; `selectBackend` does it for you.
 */
export function registerWasmConvGradients(): void {
  replaceWasmKernel('Conv2DBackpropFilter', conv2DBackpropFilter);
  replaceWasmKernel('Conv2DBackpropInput', conv2DBackpropInput);
  registerWasmFastKernels();
  registerWasmOptimKernels();
}

/** The same as registerWasmConvGradients, under the name of what it does now. */
export const registerWasmKernels = registerWasmConvGradients;
