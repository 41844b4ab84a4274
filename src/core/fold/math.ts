/**
 * The fold arithmetic, in float64, exactly as Caffe computes the layers at inference.
 *
 * BatchNorm (batch_norm_layer.cpp, TEST): s = factor == 0 ? 0 : 1 / factor; mean = blob0 * s; var = blob1 * s;
 * y = (x - mean) / sqrt(var + eps). Scale: y = gamma * x + beta.
 * Together y = alpha * x + shift with alpha = gamma / sqrt(var + eps), shift = beta - mean * alpha.
 */

export type Floats = Float32Array | Float64Array;

export interface BnStats {
  mean: Float64Array;
  variance: Float64Array;
  factor: number;
}

/** Caffe's scale-factor rule ('caffe') or NVCaffe's, where a stored 0 means 1 ('one'). */
export function bnStats(
  meanSum: ArrayLike<number>,
  varSum: ArrayLike<number>,
  factor: number,
  zeroFactor: 'caffe' | 'one' = 'caffe',
): BnStats {
  const s = factor === 0 ? (zeroFactor === 'one' ? 1 : 0) : 1 / factor;
  const n = meanSum.length;
  const mean = new Float64Array(n);
  const variance = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    mean[c] = meanSum[c] * s;
    variance[c] = varSum[c] * s;
  }
  return { mean, variance, factor };
}

/** The per-channel affine map y = alpha * x + shift that BatchNorm (and an optional Scale after it) computes. */
export interface Affine {
  alpha: Float64Array;
  shift: Float64Array;
}

export function bnAffine(stats: BnStats, eps: number, gamma?: ArrayLike<number>, beta?: ArrayLike<number>): Affine {
  const n = stats.mean.length;
  const alpha = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    const g = gamma ? gamma[c] : 1;
    const b = beta ? beta[c] : 0;
    const a = g / Math.sqrt(stats.variance[c] + eps);
    alpha[c] = a;
    shift[c] = b - stats.mean[c] * a;
  }
  return { alpha, shift };
}

export function scaleAffine(gamma: ArrayLike<number>, beta?: ArrayLike<number>): Affine {
  const n = gamma.length;
  const alpha = new Float64Array(n);
  const shift = new Float64Array(n);
  for (let c = 0; c < n; c++) {
    alpha[c] = gamma[c];
    shift[c] = beta ? beta[c] : 0;
  }
  return { alpha, shift };
}

/** How a producer's weight tensor maps elements to output channels. */
export type WeightLayout =
  /** [C_out, …]: Convolution and the depthwise types, InnerProduct without transpose. */
  | { kind: 'out-major'; outChannels: number }
  /** InnerProduct with transpose: true, [K, N]: the output channel is the last axis. */
  | { kind: 'out-minor'; outChannels: number }
  /** Deconvolution: [C_in, C_out / group, kh, kw]; output channel g*(C_out/group)+j sits at axis 1 index j of group g's rows. */
  | { kind: 'deconv'; outChannels: number; inChannels: number; group: number };

/** Visit every weight element with its output channel: cb(elementIndex, channel). */
export function forEachWeightChannel(count: number, layout: WeightLayout, cb: (i: number, c: number) => void): void {
  const C = layout.outChannels;
  switch (layout.kind) {
    case 'out-major': {
      const inner = count / C;
      for (let c = 0, i = 0; c < C; c++) for (let k = 0; k < inner; k++, i++) cb(i, c);
      return;
    }
    case 'out-minor': {
      for (let i = 0; i < count; i++) cb(i, i % C);
      return;
    }
    case 'deconv': {
      const { inChannels, group } = layout;
      const outPerGroup = C / group;
      const inPerGroup = inChannels / group;
      const spatial = count / (inChannels * outPerGroup);
      let i = 0;
      for (let r = 0; r < inChannels; r++) {
        const g = Math.floor(r / inPerGroup);
        for (let j = 0; j < outPerGroup; j++) {
          const c = g * outPerGroup + j;
          for (let k = 0; k < spatial; k++, i++) cb(i, c);
        }
      }
      return;
    }
  }
}

/**
 * W' = W * alpha[c], computed in float64 and stored into `out` (a Float32Array rounds each product once, exactly
 * as converting a float64 result would; a Float64Array keeps it).
 */
export function scaleWeights<T extends Float32Array | Float64Array = Float64Array>(
  w: ArrayLike<number>,
  layout: WeightLayout,
  alpha: Float64Array,
  out: T = new Float64Array(w.length) as T,
): T {
  const C = layout.outChannels;
  const n = w.length;
  if (layout.kind === 'out-major') {
    const inner = n / C;
    for (let c = 0, i = 0; c < C; c++) {
      const a = alpha[c];
      for (let k = 0; k < inner; k++, i++) out[i] = w[i] * a;
    }
  } else if (layout.kind === 'out-minor') {
    for (let i = 0; i < n; i += C) for (let c = 0; c < C; c++) out[i + c] = w[i + c] * alpha[c];
  } else {
    forEachWeightChannel(n, layout, (i, c) => {
      out[i] = w[i] * alpha[c];
    });
  }
  return out;
}

/** b' = b * alpha + shift (b = 0 when the producer had no bias). */
export function foldBias(b: ArrayLike<number> | undefined, affine: Affine): Float64Array {
  const n = affine.alpha.length;
  const out = new Float64Array(n);
  for (let c = 0; c < n; c++) out[c] = (b ? b[c] : 0) * affine.alpha[c] + affine.shift[c];
  return out;
}

/**
 * The fold of one row of weights, for a row layout as the proof reads it: a Convolution's or InnerProduct's
 * output channel ('out-major', alpha constant along the row), a transposed InnerProduct's input ('out-minor',
 * element k is channel k) or a Deconvolution's input channel ('deconv', [C_out/group, kh, kw] of its group).
 * Each product is computed in float64 and stored into `dst` (rounded once by a Float32Array), as scaleWeights does.
 */
export function rowScaler(layout: WeightLayout, rowLength: number, alpha: Float64Array) {
  switch (layout.kind) {
    case 'out-major':
      return (r: number, src: ArrayLike<number>, dst: Float32Array | Float64Array) => {
        const a = alpha[r];
        for (let k = 0; k < rowLength; k++) dst[k] = src[k] * a;
      };
    case 'out-minor':
      return (_r: number, src: ArrayLike<number>, dst: Float32Array | Float64Array) => {
        for (let k = 0; k < rowLength; k++) dst[k] = src[k] * alpha[k];
      };
    case 'deconv': {
      const outPerGroup = layout.outChannels / layout.group;
      const inPerGroup = layout.inChannels / layout.group;
      const spatial = rowLength / outPerGroup;
      return (r: number, src: ArrayLike<number>, dst: Float32Array | Float64Array) => {
        const base = Math.floor(r / inPerGroup) * outPerGroup;
        for (let j = 0, k = 0; j < outPerGroup; j++) {
          const a = alpha[base + j];
          for (let s = 0; s < spatial; s++, k++) dst[k] = src[k] * a;
        }
      };
    }
  }
}
