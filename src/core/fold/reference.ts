/**
 * Reference layers in float64, written from Caffe's definitions and kept deliberately plain: the proof runs the
 * original chain (producer → BatchNorm → Scale, each as Caffe defines it) and the folded producer on the same random
 * input and compares. Tensors are single images, channel-major: [C, H, W] (InnerProduct: [K]).
 */

export interface ConvGeometry {
  outChannels: number;
  group: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
}

export interface Tensor3 {
  c: number;
  h: number;
  w: number;
  data: Float64Array;
}

export function convOutSize(inSize: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((inSize + 2 * p - (d * (k - 1) + 1)) / s) + 1;
}

export function deconvOutSize(inSize: number, k: number, s: number, p: number, d: number): number {
  return s * (inSize - 1) + (d * (k - 1) + 1) - 2 * p;
}

/**
 * Weights given row by row (a row: one output channel of a Convolution or of an InnerProduct, one input channel of
 * a Deconvolution, one input of a transposed InnerProduct). A source may hand out the same scratch array for every
 * row, so a row is read before the next is asked for: big unaligned blobs are read through one row-sized copy.
 */
export interface RowWeights {
  rowLength: number;
  row(r: number): ArrayLike<number>;
}
export type Weights = ArrayLike<number> | RowWeights;

function rowsOf(w: Weights, length: number): (r: number) => ArrayLike<number> {
  if ('row' in w && typeof w.row === 'function') {
    if (w.rowLength !== length) throw new Error(`The weights come in rows of ${w.rowLength}, expected ${length}.`);
    return (r) => w.row(r);
  }
  const a = w as ArrayLike<number>;
  if (ArrayBuffer.isView(a)) {
    const t = a as unknown as Float64Array;
    return (r) => t.subarray(r * length, (r + 1) * length);
  }
  return (r) => Array.prototype.slice.call(a, r * length, (r + 1) * length) as number[];
}

/** Caffe Convolution: weights [C_out, C_in/group, kh, kw]. */
export function convForward(x: Tensor3, w: Weights, bias: ArrayLike<number> | undefined, g: ConvGeometry): Tensor3 {
  const ho = convOutSize(x.h, g.kh, g.sh, g.ph, g.dh);
  const wo = convOutSize(x.w, g.kw, g.sw, g.pw, g.dw);
  const out = new Float64Array(g.outChannels * ho * wo);
  const inPerGroup = x.c / g.group;
  const outPerGroup = g.outChannels / g.group;
  const row = rowsOf(w, inPerGroup * g.kh * g.kw);
  if (ho === 1 && wo === 1 && g.ph === 0 && g.pw === 0) {
    // One output position: each output channel is the dot product of its weights with one input patch.
    const K = inPerGroup * g.kh * g.kw;
    const patch = new Float64Array(K);
    for (let grp = 0; grp < g.group; grp++) {
      for (let ic = 0, k = 0; ic < inPerGroup; ic++)
        for (let ky = 0; ky < g.kh; ky++)
          for (let kx = 0; kx < g.kw; kx++, k++)
            patch[k] = x.data[((grp * inPerGroup + ic) * x.h + ky * g.dh) * x.w + kx * g.dw];
      for (let j = 0; j < outPerGroup; j++) {
        const oc = grp * outPerGroup + j;
        let acc = bias ? bias[oc] : 0;
        const r = row(oc);
        for (let k = 0; k < K; k++) acc += r[k] * patch[k];
        out[oc] = acc;
      }
    }
    return { c: g.outChannels, h: 1, w: 1, data: out };
  }
  for (let oc = 0; oc < g.outChannels; oc++) {
    const grp = Math.floor(oc / outPerGroup);
    const r = row(oc);
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        let acc = bias ? bias[oc] : 0;
        for (let ic = 0; ic < inPerGroup; ic++) {
          const cin = grp * inPerGroup + ic;
          for (let ky = 0; ky < g.kh; ky++) {
            const iy = oy * g.sh - g.ph + ky * g.dh;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < g.kw; kx++) {
              const ix = ox * g.sw - g.pw + kx * g.dw;
              if (ix < 0 || ix >= x.w) continue;
              acc += r[(ic * g.kh + ky) * g.kw + kx] * x.data[(cin * x.h + iy) * x.w + ix];
            }
          }
        }
        out[(oc * ho + oy) * wo + ox] = acc;
      }
    }
  }
  return { c: g.outChannels, h: ho, w: wo, data: out };
}

/** Caffe Deconvolution: weights [C_in, C_out/group, kh, kw]; the transpose of Convolution. */
export function deconvForward(x: Tensor3, w: Weights, bias: ArrayLike<number> | undefined, g: ConvGeometry): Tensor3 {
  const ho = deconvOutSize(x.h, g.kh, g.sh, g.ph, g.dh);
  const wo = deconvOutSize(x.w, g.kw, g.sw, g.pw, g.dw);
  const out = new Float64Array(g.outChannels * ho * wo);
  const inPerGroup = x.c / g.group;
  const outPerGroup = g.outChannels / g.group;
  const row = rowsOf(w, outPerGroup * g.kh * g.kw);
  for (let ic = 0; ic < x.c; ic++) {
    const grp = Math.floor(ic / inPerGroup);
    const r = row(ic);
    for (let iy = 0; iy < x.h; iy++) {
      for (let ix = 0; ix < x.w; ix++) {
        const v = x.data[(ic * x.h + iy) * x.w + ix];
        for (let j = 0; j < outPerGroup; j++) {
          const oc = grp * outPerGroup + j;
          for (let ky = 0; ky < g.kh; ky++) {
            const oy = iy * g.sh - g.ph + ky * g.dh;
            if (oy < 0 || oy >= ho) continue;
            for (let kx = 0; kx < g.kw; kx++) {
              const ox = ix * g.sw - g.pw + kx * g.dw;
              if (ox < 0 || ox >= wo) continue;
              out[(oc * ho + oy) * wo + ox] += v * r[(j * g.kh + ky) * g.kw + kx];
            }
          }
        }
      }
    }
  }
  if (bias) {
    const plane = ho * wo;
    for (let oc = 0; oc < g.outChannels; oc++) for (let i = 0; i < plane; i++) out[oc * plane + i] += bias[oc];
  }
  return { c: g.outChannels, h: ho, w: wo, data: out };
}

/** Caffe InnerProduct on one flattened input of length K: weights [N, K], or [K, N] with transpose. */
export function innerProductForward(
  x: Float64Array,
  w: Weights,
  bias: ArrayLike<number> | undefined,
  n: number,
  transpose: boolean,
): Tensor3 {
  const k = x.length;
  const out = new Float64Array(n);
  if (transpose) {
    // Rows are inputs: each output still sums its products in input order, starting from its bias.
    const row = rowsOf(w, n);
    for (let o = 0; o < n; o++) out[o] = bias ? bias[o] : 0;
    for (let i = 0; i < k; i++) {
      const r = row(i);
      const xi = x[i];
      for (let o = 0; o < n; o++) out[o] += r[o] * xi;
    }
    return { c: n, h: 1, w: 1, data: out };
  }
  const row = rowsOf(w, k);
  for (let o = 0; o < n; o++) {
    let acc = bias ? bias[o] : 0;
    const r = row(o);
    for (let i = 0; i < k; i++) acc += r[i] * x[i];
    out[o] = acc;
  }
  return { c: n, h: 1, w: 1, data: out };
}

/** Caffe BatchNorm at TEST time, literally: blobs [mean_sum, var_sum, factor]. */
export function batchNormForward(
  x: Tensor3,
  meanSum: ArrayLike<number>,
  varSum: ArrayLike<number>,
  factor: number,
  eps: number,
  zeroFactor: 'caffe' | 'one' = 'caffe',
): Tensor3 {
  const s = factor === 0 ? (zeroFactor === 'one' ? 1 : 0) : 1 / factor;
  const plane = x.h * x.w;
  const out = new Float64Array(x.data.length);
  for (let c = 0; c < x.c; c++) {
    const mean = meanSum[c] * s;
    const sd = Math.sqrt(varSum[c] * s + eps);
    for (let i = 0; i < plane; i++) out[c * plane + i] = (x.data[c * plane + i] - mean) / sd;
  }
  return { ...x, data: out };
}

/** Caffe Scale with one bottom, axis 1, num_axes 1: y = gamma[c] * x + beta[c]. */
export function scaleForward(x: Tensor3, gamma: ArrayLike<number>, beta: ArrayLike<number> | undefined): Tensor3 {
  const plane = x.h * x.w;
  const out = new Float64Array(x.data.length);
  for (let c = 0; c < x.c; c++) {
    for (let i = 0; i < plane; i++) out[c * plane + i] = x.data[c * plane + i] * gamma[c] + (beta ? beta[c] : 0);
  }
  return { ...x, data: out };
}

/** A small deterministic PRNG (mulberry32): uniform numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0 || 0x9e3779b9;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic N(0, 1) samples (mulberry32 + Box–Muller). */
export function randomNormal(n: number, seed: number): Float64Array {
  const next = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = Math.max(next(), 1e-12);
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** Worst error of `got` against `ref`: absolute, and relative to the largest magnitude of `ref`. */
export function compare(ref: Float64Array, got: Float64Array): { maxAbsError: number; maxRelError: number } {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(ref[i] - got[i]);
    if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
    const m = Math.abs(ref[i]);
    if (m > scale) scale = m;
  }
  return { maxAbsError: maxAbs, maxRelError: scale > 0 ? maxAbs / scale : maxAbs };
}
