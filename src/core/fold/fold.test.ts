/**
 * Each fold pattern and each refusal, on small nets built for the purpose. Expected weights are computed here
 * from the stored blobs with the formula written out per layout, independently of the engine's layout code.
 */
import { describe, expect, it } from 'vitest';
import { concatChunks, decodeHalf, encodeHalf, readCaffemodel } from '../caffemodel';
import { chainDetails, loadFiles, foldLoaded, pairWeights, type Loaded, type FoldResult } from '../pipeline';
import { isCaffeFoldError } from '../errors';
import { analyse } from './analyse';
import { buildNet } from '../net';
import { lookupMessage } from '../schema';
import { parsePrototxt, str, message, bool } from '../prototxt';
import type { FoldOptions } from './types';
import { blob, bnBlobs, caffemodelOf, prototxtOf, randn, uniform, type TestNet } from '../../../test/build';

const enc = new TextEncoder();

function load(net: TestNet): Loaded {
  return loadFiles(
    { name: 'net.prototxt', bytes: enc.encode(prototxtOf(net)) },
    { name: 'net.caffemodel', bytes: caffemodelOf(net, (f) => encodeHalf(f)) },
  );
}

const concat = concatChunks;

function fold(net: TestNet, opts: FoldOptions = {}) {
  const loaded = load(net);
  const result: FoldResult = foldLoaded(loaded, opts);
  const text = result.prototxt.text;
  const bytes = concat(result.caffemodel.chunks);
  const after = loadFiles({ name: 'out.prototxt', bytes: enc.encode(text) }, { name: 'out.caffemodel', bytes });
  return { loaded, result, text, after, report: result.report };
}

/** Stored values of a blob as float64 numbers. */
function values(l: Loaded, layer: string, i: number): Float64Array {
  const b = l.weights.get(layer)!.blobs[i];
  return Float64Array.from(b.dtype === 'float16' ? decodeHalf(b.data as Uint16Array) : (b.data as Float32Array));
}

/** alpha and shift from stored BN (+Scale) blobs, written out plainly. */
function expectedAffine(
  l: Loaded,
  bn: string | undefined,
  scale: string | undefined,
  eps = 1e-5,
  zero: 'caffe' | 'one' = 'caffe',
) {
  const C = bn ? values(l, bn, 0).length : values(l, scale!, 0).length;
  const alpha = new Float64Array(C);
  const shift = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let a = 1;
    let s = 0;
    if (bn) {
      const f = values(l, bn, 2)[0];
      const k = f === 0 ? (zero === 'one' ? 1 : 0) : 1 / f;
      const mean = values(l, bn, 0)[c] * k;
      const v = values(l, bn, 1)[c] * k;
      a = 1 / Math.sqrt(v + eps);
      s = -mean * a;
    }
    if (scale) {
      const g = values(l, scale, 0)[c];
      const sw = l.weights.get(scale)!.blobs;
      const beta = sw.length > 1 ? values(l, scale, 1)[c] : 0;
      a *= g;
      s = s * g + beta;
    }
    alpha[c] = a;
    shift[c] = s;
  }
  return { alpha, shift };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rel = 2e-6) {
  expect(got.length).toBe(want.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
    scale = Math.max(scale, Math.abs(want[i]));
  }
  expect(worst / (scale || 1)).toBeLessThanOrEqual(rel);
}

const conv = (
  name: string,
  bottom: string,
  top: string,
  cin: number,
  cout: number,
  opts: { k?: number; group?: number; bias?: boolean; dtype?: 'float32' | 'float64' | 'float16'; type?: string } = {},
) => {
  const k = opts.k ?? 3;
  const g = opts.group ?? 1;
  const bias = opts.bias ?? false;
  return {
    name,
    type: opts.type ?? 'Convolution',
    bottoms: [bottom],
    tops: [top],
    text: `convolution_param { num_output: ${cout} kernel_size: ${k} pad: ${(k - 1) >> 1}${g > 1 ? ` group: ${g}` : ''}${bias ? '' : ' bias_term: false'} }`,
    params: { convolution_param: { num_output: cout, kernel_size: [k], group: g, bias_term: bias } },
    blobs: [blob([cout, cin / g, k, k], undefined, opts.dtype), ...(bias ? [blob([cout], undefined, opts.dtype)] : [])],
  };
};
const bn = (
  name: string,
  bottom: string,
  top: string,
  C: number,
  o: { eps?: number; factor?: number; global?: boolean; dtype?: 'float32' | 'float64' | 'float16' } = {},
) => ({
  name,
  type: 'BatchNorm',
  bottoms: [bottom],
  tops: [top],
  text: [
    o.global !== undefined ? `use_global_stats: ${o.global}` : '',
    o.eps !== undefined ? `eps: ${o.eps}` : '',
  ].some(Boolean)
    ? `batch_norm_param { ${o.global !== undefined ? `use_global_stats: ${o.global} ` : ''}${o.eps !== undefined ? `eps: ${o.eps}` : ''} }`
    : undefined,
  blobs: bnBlobs(C, o.factor, o.dtype).blobs,
});
const scale = (name: string, bottom: string, top: string, C: number, biasTerm = true, text = '') => ({
  name,
  type: 'Scale',
  bottoms: [bottom],
  tops: [top],
  text: `scale_param { bias_term: ${biasTerm} ${text}}`,
  blobs: [blob([C], uniform(C, 0.6, 1.4)), ...(biasTerm ? [blob([C])] : [])],
});
const relu = (name: string, b: string) => ({ name, type: 'ReLU', bottoms: [b], tops: [b] });
const input = (C: number, hw = 8) => ({ name: 'data', shape: [1, C, hw, hw] });

describe('patterns', () => {
  it('Conv → BN → Scale in place, conv without bias: weights scaled, bias created, layers removed', () => {
    const net: TestNet = {
      input: input(3),
      layers: [
        conv('conv1', 'data', 'conv1', 3, 4),
        bn('bn1', 'conv1', 'conv1', 4),
        scale('sc1', 'conv1', 'conv1', 4),
        relu('relu1', 'conv1'),
      ],
    };
    const { loaded, after, text, report } = fold(net);
    expect(report.chains.map((c) => [c.label, c.layers])).toEqual([['Conv+BN+Scale', ['conv1', 'bn1', 'sc1']]]);
    const { alpha, shift } = expectedAffine(loaded, 'bn1', 'sc1');
    const W = values(loaded, 'conv1', 0);
    const inner = W.length / 4;
    expectClose(
      values(after, 'conv1', 0),
      W.map((w, i) => w * alpha[Math.floor(i / inner)]),
    );
    expectClose(values(after, 'conv1', 1), shift);
    expect(after.net.layers.map((l) => l.name)).toEqual(['conv1', 'relu1']);
    expect(text).toMatch(/bias_term: true/);
    expect(text).not.toMatch(/bias_term: false/);
    // The caffemodel's copy of the layer parameters says bias_term: true too, and the BN/Scale layers are gone.
    const model = readCaffemodel(concat(foldLoaded(loaded).caffemodel.chunks));
    expect(model.layers.map((l) => l.name)).toEqual(['conv1', 'relu1']);
    const conv1 = model.layers[0];
    const decoded = lookupMessage('LayerParameter').decode(
      model.bytes.subarray(conv1.payload.start, conv1.payload.end),
    ) as unknown as { convolution_param: { bias_term: boolean; num_output: number } };
    expect(decoded.convolution_param).toMatchObject({ bias_term: true, num_output: 4 });
    expect(report.chains[0].proof.maxRelError).toBeLessThan(1e-6);
  });

  it('Conv (with bias) → BN not in place → Scale in place: the conv takes over the last top name', () => {
    const net: TestNet = {
      input: input(3),
      layers: [
        conv('conv1', 'data', 'conv1', 3, 4, { bias: true }),
        bn('bn1', 'conv1', 'conv1/bn', 4),
        scale('sc1', 'conv1/bn', 'conv1/bn', 4),
        relu('relu1', 'conv1/bn'),
        {
          name: 'pool',
          type: 'Pooling',
          bottoms: ['conv1/bn'],
          tops: ['pool'],
          text: 'pooling_param { pool: AVE global_pooling: true }',
        },
      ],
    };
    const { loaded, after } = fold(net);
    const { alpha, shift } = expectedAffine(loaded, 'bn1', 'sc1');
    const b = values(loaded, 'conv1', 1);
    expectClose(
      values(after, 'conv1', 1),
      b.map((v, c) => v * alpha[c] + shift[c]),
    );
    const c1 = after.net.byName.get('conv1')!;
    expect(c1.tops).toEqual(['conv1/bn']);
    expect(after.net.byName.get('pool')!.bottoms).toEqual(['conv1/bn']);
    expect(after.net.outputs.map((o) => o.name)).toEqual(['pool']);
  });

  it('Conv → BN without Scale, with a non-default eps', () => {
    const net: TestNet = {
      input: input(3),
      layers: [conv('c', 'data', 'c', 3, 5), bn('b', 'c', 'c', 5, { eps: 1e-3 })],
    };
    const { loaded, after, report } = fold(net);
    expect(report.chains[0].label).toBe('Conv+BN');
    const { alpha } = expectedAffine(loaded, 'b', undefined, 1e-3);
    const W = values(loaded, 'c', 0);
    expectClose(
      values(after, 'c', 0),
      W.map((w, i) => w * alpha[Math.floor(i / (W.length / 5))]),
    );
    // eps 1e-5 would give measurably different weights: the test can tell.
    const wrong = expectedAffine(loaded, 'b', undefined, 1e-5).alpha;
    expect(Math.abs(wrong[0] - alpha[0])).toBeGreaterThan(1e-6);
  });

  it('Conv → Scale with no BatchNorm', () => {
    const net: TestNet = {
      input: input(2),
      layers: [conv('c', 'data', 'c', 2, 3, { bias: true }), scale('s', 'c', 'c', 3)],
    };
    const { loaded, after, report } = fold(net);
    expect(report.chains[0].label).toBe('Conv+Scale');
    const { alpha, shift } = expectedAffine(loaded, undefined, 's');
    expectClose(
      values(after, 'c', 1),
      values(loaded, 'c', 1).map((v, c) => v * alpha[c] + shift[c]),
    );
  });

  it('depthwise Convolution (group = channels) and the custom depthwise types', () => {
    for (const type of ['Convolution', 'ConvolutionDepthwise', 'DepthwiseConvolution']) {
      const net: TestNet = {
        input: input(4),
        layers: [conv('dw', 'data', 'dw', 4, 4, { group: 4, type }), bn('b', 'dw', 'dw', 4), scale('s', 'dw', 'dw', 4)],
      };
      const { loaded, after, report } = fold(net);
      expect(report.chains.length, type).toBe(1);
      const { alpha } = expectedAffine(loaded, 'b', 's');
      expectClose(
        values(after, 'dw', 0),
        values(loaded, 'dw', 0).map((w, i) => w * alpha[Math.floor(i / 9)]),
      );
    }
  });

  it('grouped Deconvolution scales the output channel within each group (weights [C_in, C_out/g, kh, kw])', () => {
    const Cin = 4;
    const Cout = 6;
    const g = 2;
    const net: TestNet = {
      input: input(Cin),
      layers: [
        {
          name: 'up',
          type: 'Deconvolution',
          bottoms: ['data'],
          tops: ['up'],
          text: `convolution_param { num_output: ${Cout} kernel_size: 4 stride: 2 pad: 1 group: ${g} bias_term: false }`,
          blobs: [blob([Cin, Cout / g, 4, 4])],
        },
        bn('b', 'up', 'up', Cout),
        scale('s', 'up', 'up', Cout),
      ],
    };
    const { loaded, after, report } = fold(net);
    expect(report.chains[0].label).toBe('Deconv+BN+Scale');
    const { alpha } = expectedAffine(loaded, 'b', 's');
    const W = values(loaded, 'up', 0);
    const want = new Float64Array(W.length);
    for (let i = 0; i < Cin; i++)
      for (let j = 0; j < Cout / g; j++)
        for (let k = 0; k < 16; k++) {
          const idx = (i * (Cout / g) + j) * 16 + k;
          const group = Math.floor(i / (Cin / g));
          want[idx] = W[idx] * alpha[group * (Cout / g) + j];
        }
    expectClose(values(after, 'up', 0), want);
    // The classic bug — scaling axis 1 by alpha[j] alone — would differ.
    expect(Math.abs(alpha[0] - alpha[3])).toBeGreaterThan(0);
  });

  it('InnerProduct with transpose: true scales the last axis; without bias a bias is created', () => {
    const K = 6;
    const N = 3;
    const net: TestNet = {
      input: { name: 'data', shape: [1, K] },
      layers: [
        {
          name: 'fc',
          type: 'InnerProduct',
          bottoms: ['data'],
          tops: ['fc'],
          text: `inner_product_param { num_output: ${N} transpose: true bias_term: false }`,
          params: { inner_product_param: { num_output: N, transpose: true, bias_term: false } },
          blobs: [blob([K, N])],
        },
        bn('b', 'fc', 'fc', N),
        scale('s', 'fc', 'fc', N),
      ],
    };
    const { loaded, after, text, report } = fold(net);
    expect(report.chains[0].label).toBe('IP+BN+Scale');
    const { alpha, shift } = expectedAffine(loaded, 'b', 's');
    expectClose(
      values(after, 'fc', 0),
      values(loaded, 'fc', 0).map((w, i) => w * alpha[i % N]),
    );
    expectClose(values(after, 'fc', 1), shift);
    const fc = after.net.byName.get('fc')!;
    expect(bool(message(fc.msg, 'inner_product_param')!, 'bias_term')).toBe(true);
    expect(text.match(/inner_product_param \{[^}]*\}/)![0]).toMatch(/transpose: true/);
  });

  it('InnerProduct with a legacy [1,1,N,K] weight shape keeps that shape', () => {
    const net: TestNet = {
      input: { name: 'data', shape: [1, 5] },
      layers: [
        {
          name: 'fc',
          type: 'InnerProduct',
          bottoms: ['data'],
          tops: ['fc'],
          text: 'inner_product_param { num_output: 2 }',
          blobs: [
            { ...blob([2, 5]), legacy: true },
            { ...blob([2]), legacy: true },
          ],
        },
        bn('b', 'fc', 'fc', 2),
      ],
    };
    const { after, report } = fold(net);
    expect(report.chains.map((c) => c.label)).toEqual(['IP+BN']);
    expect(after.weights.get('fc')!.blobs[0]).toMatchObject({ shapeKind: 'legacy', shape: [1, 1, 2, 5] });
    expect(after.weights.get('fc')!.blobs[1]).toMatchObject({ shapeKind: 'legacy', shape: [1, 1, 1, 2] });
    // The same dims as a BlobShape are not the legacy form: Caffe refuses them (Blob::ShapeEquals), and so do we.
    const asShape: TestNet = {
      ...net,
      layers: [{ ...net.layers[0], blobs: [blob([1, 1, 2, 5]), blob([2])] }, net.layers[1]],
    };
    expect(() => load(asShape)).toThrow(
      /Param 0 \(weights\) of InnerProduct layer "fc" has the shape \[1, 1, 2, 5\] in the caffemodel, but the prototxt makes it \[2, 5\]/,
    );
  });

  it('BN + Scale after an Eltwise become one Scale with bias (pre-activation)', () => {
    const net: TestNet = {
      input: input(3),
      layers: [
        conv('a', 'data', 'a', 3, 4, { bias: true }),
        conv('b', 'data', 'b', 3, 4, { bias: true }),
        { name: 'sum', type: 'Eltwise', bottoms: ['a', 'b'], tops: ['sum'] },
        bn('bn', 'sum', 'sum_bn', 4),
        scale('sc', 'sum_bn', 'sum_bn', 4, false),
      ],
    };
    const { loaded, after, text, report } = fold(net);
    expect(report.chains.map((c) => c.label)).toEqual(['BN+Scale→Scale']);
    const { alpha, shift } = expectedAffine(loaded, 'bn', 'sc');
    expectClose(values(after, 'sc', 0), alpha);
    expectClose(values(after, 'sc', 1), shift);
    const sc = after.net.byName.get('sc')!;
    expect(sc.bottoms).toEqual(['sum']);
    expect(sc.tops).toEqual(['sum_bn']);
    expect(text).toMatch(/bias_term: true/);
    expect(after.net.byName.has('bn')).toBe(false);
    expect(after.weights.get('sc')!.bottoms).toEqual(['sum']);
  });

  it('double and fp16 blobs are written back in their own dtype', () => {
    const net: TestNet = {
      input: input(2),
      layers: [
        conv('c', 'data', 'c', 2, 3, { bias: true, dtype: 'float64' }),
        bn('b', 'c', 'c', 3, { dtype: 'float64' }),
        conv('h', 'c', 'h', 3, 2, { bias: true, dtype: 'float16' }),
        bn('bh', 'h', 'h', 2),
      ],
    };
    const { loaded, after, report } = fold(net);
    expect(report.chains.length).toBe(2);
    expect(after.weights.get('c')!.blobs.map((b) => b.dtype)).toEqual(['float64', 'float64']);
    expect(after.weights.get('h')!.blobs.map((b) => b.dtype)).toEqual(['float16', 'float16']);
    const { alpha } = expectedAffine(loaded, 'b', undefined);
    const W = values(loaded, 'c', 0);
    // float64 storage: exact to float64 round-off.
    expectClose(
      values(after, 'c', 0),
      W.map((w, i) => w * alpha[Math.floor(i / (W.length / 3))]),
      1e-14,
    );
    const a2 = expectedAffine(loaded, 'bh', undefined).alpha;
    const H = values(loaded, 'h', 0);
    expectClose(
      values(after, 'h', 0),
      H.map((w, i) => w * a2[Math.floor(i / (H.length / 2))]),
      1e-3,
    );
  });

  it('a zero moving-average factor: Caffe reads mean = var = 0; --zero-factor one reads it as 1', () => {
    const mk = (): TestNet => ({
      input: input(2),
      layers: [conv('c', 'data', 'c', 2, 3), bn('b', 'c', 'c', 3, { factor: 0 })],
    });
    const net = mk();
    // With factor 0 the stored sums are 0·x = 0; store real statistics as NVCaffe did.
    net.layers[1].blobs![0] = blob([3], randn(3, 0.5));
    net.layers[1].blobs![1] = blob([3], uniform(3, 0.5, 2));
    const caffe = fold(net);
    const one = fold(net, { zeroFactor: 'one' });
    const W = values(caffe.loaded, 'c', 0);
    const inv = 1 / Math.sqrt(1e-5);
    expectClose(
      values(caffe.after, 'c', 0),
      W.map((w) => w * inv),
    );
    expectClose(values(caffe.after, 'c', 1), new Float64Array(3));
    const { alpha, shift } = expectedAffine(one.loaded, 'b', undefined, 1e-5, 'one');
    expectClose(
      values(one.after, 'c', 0),
      W.map((w, i) => w * alpha[Math.floor(i / (W.length / 3))]),
    );
    expectClose(values(one.after, 'c', 1), shift);
    expect(caffe.report.chains[0].stats.zeroFactor).toBe(true);
  });

  it('skip leaves a chain as it is and says so', () => {
    const net: TestNet = {
      input: input(3),
      layers: [
        conv('c1', 'data', 'c1', 3, 4),
        bn('b1', 'c1', 'c1', 4),
        conv('c2', 'c1', 'c2', 4, 4),
        bn('b2', 'c2', 'c2', 4),
      ],
    };
    const { report, after } = fold(net, { skip: ['b2'] });
    expect(report.chains.map((c) => c.id)).toEqual(['c1']);
    expect(report.refusals).toEqual([expect.objectContaining({ layer: 'b2', code: 'skipped' })]);
    expect(after.net.byName.has('b2')).toBe(true);
  });

  it('a proof that cannot be met refuses the fold (the proof measures real round-off)', () => {
    const net: TestNet = { input: input(3), layers: [conv('c1', 'data', 'c1', 3, 4), bn('b1', 'c1', 'c1', 4)] };
    const { report, after } = fold(net, { tolerance: 1e-30 });
    expect(report.chains).toEqual([]);
    expect(report.refusals[0]).toMatchObject({ layer: 'b1', code: 'proof-failed' });
    expect(after.net.byName.has('b1')).toBe(true);
  });

  it("a chain's details (side panel) prove it as the fold does, and write nothing", () => {
    const net: TestNet = {
      input: input(3),
      layers: [
        conv('c1', 'data', 'c1', 3, 4, { bias: true }),
        bn('b1', 'c1', 'c1', 4),
        scale('s1', 'c1', 'c1', 4),
        conv('c2', 'c1', 'c2', 4, 5),
        bn('b2', 'c2', 'c2', 5),
      ],
    };
    const bytes = caffemodelOf(net);
    const l = loadFiles(
      { name: 'n.prototxt', bytes: enc.encode(prototxtOf(net)) },
      { name: 'n.caffemodel', bytes: bytes.slice() },
    );
    const details = l.analysis.chains.map((c) => chainDetails(l, c.id));
    expect(Buffer.from(l.model!.bytes).equals(Buffer.from(bytes))).toBe(true);
    const folded = foldLoaded(l).report.chains;
    expect(details.map((d) => d.proof)).toEqual(folded.map((c) => c.proof));
    expect(details.every((d) => d.proof!.maxRelError < 1e-6)).toBe(true);
  });

  it('in place, a refused chain leaves the stored weights as they were', () => {
    const net: TestNet = {
      input: input(3),
      layers: [
        conv('c1', 'data', 'c1', 3, 4),
        bn('b1', 'c1', 'c1', 4),
        conv('c2', 'c1', 'c2', 4, 4),
        bn('b2', 'c2', 'c2', 4),
      ],
    };
    const bytes = caffemodelOf(net);
    const l = loadFiles(
      { name: 'n.prototxt', bytes: enc.encode(prototxtOf(net)) },
      { name: 'n.caffemodel', bytes: bytes.slice() },
    );
    const stored = l.model!.bytes;
    const r = foldLoaded(l, { inPlace: true, skip: ['c2'], tolerance: 1e-30 });
    expect(r.report.chains).toEqual([]);
    expect(Buffer.from(stored).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(concat(r.caffemodel.chunks)).equals(Buffer.from(bytes))).toBe(true);
  });
});

describe('refusals', () => {
  const refusalOf = (net: TestNet, layer: string) => {
    const l = load(net);
    return { refusal: l.analysis.refusals.find((r) => r.layer === layer), chains: l.analysis.chains };
  };
  /**
   * The analysis alone, on a pair loadFiles refuses (blobs Caffe would not copy): its own refusals stay a defence
   * for callers of analyse().
   */
  const analysisOf = (net: TestNet) => {
    const built = buildNet(parsePrototxt(prototxtOf(net)));
    const { weights } = pairWeights(built, readCaffemodel(caffemodelOf(net)));
    return analyse(built, { weights });
  };
  const analysisRefusalOf = (net: TestNet, layer: string, code: string) => {
    let err: unknown;
    try {
      load(net);
    } catch (e) {
      err = e;
    }
    expect(isCaffeFoldError(err) && err.code, 'loadFiles refuses the pair').toBe(code);
    const a = analysisOf(net);
    return { refusal: a.refusals.find((r) => r.layer === layer), chains: a.chains };
  };

  it('use_global_stats: false', () => {
    const { refusal, chains } = refusalOf(
      {
        input: input(3),
        layers: [conv('c', 'data', 'c', 3, 4), bn('b', 'c', 'c', 4, { global: false }), scale('s', 'c', 'c', 4)],
      },
      'b',
    );
    expect(refusal?.code).toBe('bn-batch-stats');
    expect(refusal?.reason).toMatch(/use_global_stats: false/);
    expect(chains).toEqual([]);
  });

  it('BN after Pooling with no Scale', () => {
    const { refusal } = refusalOf(
      {
        input: input(3),
        layers: [
          {
            name: 'p',
            type: 'Pooling',
            bottoms: ['data'],
            tops: ['p'],
            text: 'pooling_param { pool: MAX kernel_size: 2 stride: 2 }',
          },
          bn('b', 'p', 'p2', 3),
        ],
      },
      'b',
    );
    expect(refusal).toMatchObject({ code: 'bn-input-not-foldable' });
    expect(refusal!.reason).toMatch(/Pooling "p"/);
  });

  it('BN reading a net input directly', () => {
    const { refusal } = refusalOf({ input: input(3), layers: [bn('b', 'data', 'b', 3)] }, 'b');
    expect(refusal?.code).toBe('bn-input-not-foldable');
  });

  it("the producer's output is also read by another layer", () => {
    const { refusal } = refusalOf(
      {
        input: input(3),
        layers: [
          conv('c', 'data', 'c', 3, 4),
          bn('b', 'c', 'c_bn', 4),
          { name: 'other', type: 'ReLU', bottoms: ['c'], tops: ['other'] },
        ],
      },
      'b',
    );
    expect(refusal).toMatchObject({ code: 'producer-output-shared' });
    expect(refusal!.reason).toMatch(/"other"/);
  });

  it('in place: a reader of the earlier version counts, a reader after the BN does not', () => {
    const l = load({
      input: input(3),
      layers: [
        conv('c', 'data', 'c', 3, 4),
        bn('b', 'c', 'c', 4),
        scale('s', 'c', 'c', 4),
        { name: 'after', type: 'ReLU', bottoms: ['c'], tops: ['r'] },
      ],
    });
    expect(l.analysis.chains.map((c) => c.label)).toEqual(['Conv+BN+Scale']);
  });

  it('a producer whose weights are shared (param name)', () => {
    const c1 = {
      ...conv('c1', 'data', 'c1', 3, 4),
      text: 'param { name: "shared_w" }\nconvolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false }',
    };
    const c2 = {
      ...conv('c2', 'data', 'c2', 3, 4),
      text: 'param { name: "shared_w" }\nconvolution_param { num_output: 4 kernel_size: 3 pad: 1 bias_term: false }',
    };
    const { refusal } = refusalOf({ input: input(3), layers: [c1, c2, bn('b', 'c1', 'c1', 4)] }, 'b');
    expect(refusal?.code).toBe('producer-weights-shared');
  });

  it('Scale with two bottoms is never a BN partner; with axis ≠ 1 or num_axes ≠ 1 neither', () => {
    const pool = {
      name: 'p',
      type: 'Pooling',
      bottoms: ['data'],
      tops: ['p'],
      text: 'pooling_param { pool: MAX kernel_size: 2 stride: 2 }',
    };
    const two = refusalOf(
      {
        input: input(3),
        layers: [
          pool,
          bn('b', 'p', 'pb', 3),
          { name: 's', type: 'Scale', bottoms: ['pb', 'data'], tops: ['s'], text: 'scale_param { axis: 0 }' },
        ],
      },
      'b',
    );
    expect(two.refusal?.reason).toMatch(/2 bottoms/);
    // (Blobs of C values, where these Scales make [1] and [C, H]: Caffe refuses the pair; the analysis alone too.)
    const axis = analysisRefusalOf(
      { input: input(3), layers: [pool, bn('b', 'p', 'pb', 3), scale('s', 'pb', 'pb', 3, true, 'axis: 0 ')] },
      'b',
      'pair-blob-shape',
    );
    expect(axis.refusal?.reason).toMatch(/axis: 0/);
    const na = analysisRefusalOf(
      { input: input(3), layers: [pool, bn('b', 'p', 'pb', 3), scale('s', 'pb', 'pb', 3, true, 'num_axes: 2 ')] },
      'b',
      'pair-blob-shape',
    );
    expect(na.refusal?.reason).toMatch(/num_axes: 2/);
    // A conv before them still takes the BN alone; the odd Scale stays.
    const l = analysisOf({
      input: input(3),
      layers: [conv('c', 'data', 'c', 3, 4), bn('b', 'c', 'c', 4), scale('s', 'c', 'c', 4, true, 'num_axes: 2 ')],
    });
    expect(l.chains.map((c) => c.label)).toEqual(['Conv+BN']);
  });

  it('missing and wrong-shaped blobs', () => {
    const missing: TestNet = {
      input: input(3),
      layers: [conv('c', 'data', 'c', 3, 4), { ...bn('b', 'c', 'c', 4), blobs: [] }],
    };
    expect(analysisRefusalOf(missing, 'b', 'pair-blob-count').refusal?.code).toBe('blobs-missing');
    const wrong: TestNet = { input: input(3), layers: [conv('c', 'data', 'c', 3, 4), bn('b', 'c', 'c', 5)] };
    expect(analysisRefusalOf(wrong, 'b', 'pair-blob-shape').refusal).toMatchObject({ code: 'blobs-shape' });
    // A weight blob whose dims disagree with its values (found by the fuzzer: dims [4, 0, 3, 3], 108 values).
    const damaged: TestNet = {
      input: input(3),
      layers: [{ ...conv('c', 'data', 'c', 3, 4), blobs: [blob([4, 0, 3, 3], randn(108, 0.5))] }, bn('b', 'c', 'c', 4)],
    };
    expect(analysisRefusalOf(damaged, 'b', 'pair-blob-shape').refusal).toMatchObject({
      code: 'blobs-shape',
      reason: expect.stringContaining('declare the shape [4, 0, 3, 3] (0 values) but hold 108'),
    });
    const flat: TestNet = {
      input: input(1),
      layers: [{ ...conv('c', 'data', 'c', 1, 4, { k: 1 }), blobs: [blob([4])] }, bn('b', 'c', 'c', 4)],
    };
    expect(analysisRefusalOf(flat, 'b', 'pair-blob-shape').refusal).toMatchObject({
      code: 'blobs-shape',
      reason: expect.stringContaining('have the shape [4]'),
    });
  });

  it('NaN or negative variance: refused with a warning', () => {
    for (const bad of [NaN, -5]) {
      const net: TestNet = { input: input(3), layers: [conv('c', 'data', 'c', 3, 2), bn('b', 'c', 'c', 2)] };
      net.layers[1].blobs![1].values[1] = bad;
      const l = load(net);
      const r = l.analysis.refusals.find((x) => x.layer === 'b');
      expect(r?.code, String(bad)).toBe('bad-statistics');
      expect(l.analysis.warnings.some((w) => w.layer === 'b')).toBe(true);
    }
  });
});

describe('network model', () => {
  it('TEST-phase rules drop TRAIN-only layers, and versions resolve in-place writes', () => {
    const net = buildNet(
      parsePrototxt(`name: "x"
layer { name: "d" type: "Input" top: "data" input_param { shape { dim: 1 dim: 3 dim: 4 dim: 4 } } }
layer { name: "train_only" type: "Dropout" bottom: "data" top: "data" include { phase: TRAIN } }
layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 1 } }
layer { name: "r" type: "ReLU" bottom: "c" top: "c" }
layer { name: "s" type: "Sigmoid" bottom: "c" top: "s" exclude { phase: TEST } }
`),
    );
    expect(net.layers.map((l) => l.name)).toEqual(['d', 'c', 'r']);
    expect(net.excluded.map((l) => l.name)).toEqual(['train_only', 's']);
    const r = net.byName.get('r')!;
    expect(r.bottomRefs[0].id).toBe('c@0');
    expect(r.topRefs[0].id).toBe('c@1');
    expect(net.outputs.map((o) => o.id)).toEqual(['c@1']);
    expect(str(net.layers[0].msg, 'type')).toBe('Input');
  });

  it('stage and level rules follow the net state', () => {
    const text = `state { phase: TEST stage: "deploy" level: 2 }
input: "data" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2
layer { name: "a" type: "ReLU" bottom: "data" top: "a" include { stage: "deploy" } }
layer { name: "b" type: "ReLU" bottom: "data" top: "b" include { not_stage: "deploy" } }
layer { name: "c" type: "ReLU" bottom: "data" top: "c" include { min_level: 3 } }
layer { name: "d" type: "ReLU" bottom: "data" top: "d" include { max_level: 2 } }
`;
    const net = buildNet(parsePrototxt(text));
    expect(net.layers.map((l) => l.name)).toEqual(['a', 'd']);
    expect(net.inputs[0].shape).toEqual([1, 1, 2, 2]);
  });

  it('an unknown bottom names the layer and the line', () => {
    expect(() =>
      buildNet(parsePrototxt('layer {\n  name: "x"\n  type: "ReLU"\n  bottom: "nope"\n  top: "x"\n}\n', 'n.prototxt')),
    ).toThrow(/n\.prototxt:1:1.*"nope"/);
  });

  it('pairing reports layers with weights on one side only', () => {
    const net: TestNet = { input: input(3), layers: [conv('c', 'data', 'c', 3, 4), bn('b', 'c', 'c', 4)] };
    const text = prototxtOf({ ...net, layers: [...net.layers, { ...conv('extra', 'c', 'e', 4, 4) }] });
    const model = {
      name: 'a.caffemodel',
      bytes: caffemodelOf({
        ...net,
        layers: [...net.layers, { name: 'stale', type: 'Convolution', blobs: [blob([1, 1, 1, 1])] }],
      }),
    };
    // Layers without weights are an error unless allowed.
    expect(() => loadFiles({ name: 'a.prototxt', bytes: enc.encode(text) }, model)).toThrow(
      /layer "extra": 1 layer of the prototxt needs weights and has none/,
    );
    const l = loadFiles({ name: 'a.prototxt', bytes: enc.encode(text) }, model, { allowMissingWeights: true });
    expect(l.pairing.missing).toEqual(['extra']);
    expect(l.pairing.unused).toEqual(['stale']);
  });
});

describe('reference layers', () => {
  it('the one-position fast path of convolution equals the general loop', async () => {
    const { convForward, randomNormal } = await import('./reference');
    const g = { outChannels: 6, group: 2, kh: 3, kw: 2, sh: 1, sw: 1, ph: 0, pw: 0, dh: 2, dw: 1 };
    const x = { c: 4, h: 5, w: 2, data: randomNormal(40, 3) };
    const w = randomNormal(6 * 2 * 3 * 2, 4);
    const b = randomNormal(6, 5);
    const fast = convForward(x, w, b, g);
    // The same position computed by the general loop: pad the input by a row, so the fast path is not taken, and
    // read the output at the matching place.
    const padded = { c: 4, h: 7, w: 4, data: new Float64Array(4 * 7 * 4) };
    for (let c = 0; c < 4; c++)
      for (let y = 0; y < 5; y++)
        for (let xx = 0; xx < 2; xx++) padded.data[(c * 7 + y + 1) * 4 + xx + 1] = x.data[(c * 5 + y) * 2 + xx];
    const slow = convForward(padded, w, b, { ...g, ph: 1, pw: 1 });
    expect(fast.h * fast.w).toBe(1);
    for (let oc = 0; oc < 6; oc++) expect(fast.data[oc]).toBeCloseTo(slow.data[(oc * slow.h + 2) * slow.w + 2], 12); // padded twice: by hand and by the layer
  });
});

describe('big blobs are read without a whole copy', () => {
  it('raw bytes, blobCopy and blobRows agree with the values at every alignment of the file', async () => {
    const { blobCopy, blobRows } = await import('./blobs');
    const net: TestNet = {
      input: input(3),
      layers: [conv('c', 'data', 'c', 3, 5, { bias: true }), { ...conv('d', 'c', 'd', 5, 4, { dtype: 'float64' }) }],
    };
    const bytes = caffemodelOf(net);
    for (let shift = 0; shift < 8; shift++) {
      const buf = new Uint8Array(bytes.length + 8);
      buf.set(bytes, shift);
      const m = readCaffemodel(buf.subarray(shift, shift + bytes.length));
      for (const layer of m.layers) {
        for (const b of layer.blobs) {
          const want = Array.from(b.data);
          expect(b.raw!.byteLength).toBe(b.count * (b.dtype === 'float64' ? 8 : 4));
          expect(b.raw!.buffer).toBe(buf.buffer); // a view over the file, not a copy
          const copy = blobCopy(b);
          expect(Array.from(copy)).toEqual(want);
          expect(copy.buffer).not.toBe(buf.buffer);
          const L = b.shape.length > 1 ? b.count / b.shape[0] : b.count;
          const rows = blobRows(b, L);
          const got: number[] = [];
          for (let r = 0; r < b.count / L; r++) got.push(...Array.from(rows.row(r)));
          expect(got).toEqual(want);
        }
      }
    }
  });

  it('a blob stored as unpacked floats has no raw bytes and is still copied and read right', async () => {
    const { blobCopy, blobRows } = await import('./blobs');
    // BlobProto { shape { dim: 2 } data: 1.5 (fixed32) data: -2 (fixed32) }, inside layer "c".
    const f = (v: number) => [...new Uint8Array(Float32Array.of(v).buffer)];
    const blobBytes = [0x3a, 2, 0x08, 2, 0x2d, ...f(1.5), 0x2d, ...f(-2)];
    const layer = [0x0a, 1, 0x63, 0x3a, blobBytes.length, ...blobBytes];
    const b = readCaffemodel(Uint8Array.from([0xa2, 0x06, layer.length, ...layer])).layers[0].blobs[0];
    expect(b.raw).toBeUndefined();
    expect(Array.from(blobCopy(b))).toEqual([1.5, -2]);
    expect(Array.from(blobRows(b, 1).row(1))).toEqual([-2]);
  });

  it('Conv, Deconv, InnerProduct and transposed InnerProduct fold to the same bytes and proofs from any alignment, in place or not', () => {
    const net: TestNet = {
      input: input(4),
      layers: [
        conv('c', 'data', 'c', 4, 6, { bias: true }),
        bn('cb', 'c', 'c', 6),
        scale('cs', 'c', 'c', 6),
        {
          name: 'up',
          type: 'Deconvolution',
          bottoms: ['c'],
          tops: ['up'],
          text: 'convolution_param { num_output: 4 kernel_size: 2 stride: 2 group: 2 bias_term: false }',
          blobs: [blob([6, 2, 2, 2])],
        },
        bn('ub', 'up', 'up', 4),
        {
          name: 'fc',
          type: 'InnerProduct',
          bottoms: ['up'],
          tops: ['fc'],
          text: 'inner_product_param { num_output: 5 }',
          params: { inner_product_param: { num_output: 5 } },
          blobs: [blob([5, 4 * 16 * 16]), blob([5])],
        },
        bn('fb', 'fc', 'fc', 5),
        scale('fs', 'fc', 'fc', 5),
        {
          name: 'ft',
          type: 'InnerProduct',
          bottoms: ['fc'],
          tops: ['ft'],
          text: 'inner_product_param { num_output: 3 transpose: true }',
          params: { inner_product_param: { num_output: 3, transpose: true } },
          blobs: [blob([5, 3]), blob([3])],
        },
        bn('tb', 'ft', 'ft', 3),
      ],
    };
    const text = enc.encode(prototxtOf(net));
    const bytes = caffemodelOf(net);
    const runs = [0, 1, 2, 3].flatMap((shift) =>
      [false, true].map((inPlace) => {
        const buf = new Uint8Array(bytes.length + 4);
        buf.set(bytes, shift);
        const l = loadFiles(
          { name: 'n.prototxt', bytes: text },
          { name: 'n.caffemodel', bytes: buf.subarray(shift, shift + bytes.length) },
        );
        const r = foldLoaded(l, { inPlace });
        const out = concat(r.caffemodel.chunks);
        // In place, the input's weights now hold the folded values; otherwise it is untouched.
        expect(Buffer.from(buf.subarray(shift, shift + bytes.length)).equals(Buffer.from(bytes))).toBe(!inPlace);
        return { out, proofs: r.report.chains.map((c) => [c.id, c.proof.maxRelError]) };
      }),
    );
    expect(runs[0].proofs.map((p) => p[0])).toEqual(['c', 'up', 'fc', 'ft']);
    for (const [, e] of runs[0].proofs) expect(e).toBeLessThan(1e-6);
    // The stored alignment differs between runs, so the fold takes the view path in some and the row-copy path in
    // others; in place or into new arrays, the result is the same.
    for (const r of runs.slice(1)) {
      expect(r.proofs).toEqual(runs[0].proofs);
      expect(Buffer.from(r.out).equals(Buffer.from(runs[0].out))).toBe(true);
    }
  });
});
