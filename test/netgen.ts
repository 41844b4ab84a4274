/**
 * Random valid Caffe nets with awkward wiring, for the graph fuzzer: branches and joins, BatchNorm and Scale in
 * place or not, in-place layers that overwrite a blob between a producer and its BatchNorm or between a BatchNorm
 * and its Scale, chains of every producer type, blobs read by several layers, several net outputs.
 *
 * Every net is one Caffe accepts: a top is a new name, or the bottom at the same index (in place) — Caffe's
 * AppendTop refuses any other reuse ("produced by multiple sources"). Shapes stay NCHW with one spatial size so that
 * any two blobs of equal channels can be summed; InnerProduct heads end a branch with an [N, K] blob.
 */
import { mulberry32, randomNormal } from '../src/core/fold/reference';
import { blob, type TestBlob, type TestLayer, type TestNet } from './build';

interface Live {
  name: string;
  channels: number;
  /** 2 for an InnerProduct's [N, K] output, 4 otherwise. */
  rank: 2 | 4;
}

export interface GenOptions {
  /** How many layers to add after the input (roughly). */
  layers?: number;
  /** Let InnerProducts store their weights transposed (`transpose: true`); OpenCV DNN cannot run those. */
  transposeIP?: boolean;
}

const SIDE = 5;

export function randomNet(seed: number, opts: GenOptions = {}): TestNet {
  const next = mulberry32(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(next() * xs.length)];
  const chance = (p: number) => next() < p;
  // Weights from this net's own generator, so that a seed alone replays a net (build.ts's randn counts calls
  // across the whole process).
  const randn = (n: number, scale: number) => randomNormal(n, Math.floor(next() * 2 ** 31)).map((v) => v * scale);
  const uniform = (n: number, lo: number, hi: number) =>
    Float64Array.from({ length: n }, () => lo + (hi - lo) * next());
  const bnBlobs = (C: number, factor: number): TestBlob[] => [
    blob(
      [C],
      randn(C, 0.5).map((m) => m * factor),
    ),
    blob(
      [C],
      uniform(C, 0.5, 2).map((v) => v * factor),
    ),
    blob([1], Float64Array.of(factor)),
  ];
  const layers: TestLayer[] = [];
  const live: Live[] = [{ name: 'data', channels: 3, rank: 4 }];
  let id = 0;
  const fresh = (stem: string) => `${stem}${id++}`;
  /** Recent blobs are read more often, so chains form; old ones now and then, so branches do. */
  const source = (rank?: 2 | 4): Live | undefined => {
    const pool = live.filter((b) => rank === undefined || b.rank === rank);
    if (!pool.length) return undefined;
    return chance(0.7) ? pool[pool.length - 1] : pick(pool);
  };
  /** The top of a layer reading `from`: in place (same name) or a new blob. */
  const topFor = (from: Live, inPlace: boolean, channels = from.channels, rank = from.rank): Live => {
    if (inPlace) {
      const b = live.find((l) => l.name === from.name)!;
      b.channels = channels;
      b.rank = rank;
      live.splice(live.indexOf(b), 1);
      live.push(b);
      return b;
    }
    const b: Live = { name: fresh('b'), channels, rank };
    live.push(b);
    return b;
  };

  const addProducer = (from: Live): Live => {
    const kind =
      from.rank === 2
        ? 'InnerProduct'
        : pick(['Convolution', 'Convolution', 'Convolution', 'Deconvolution', 'InnerProduct', 'Depthwise']);
    const bias = chance(0.5);
    const name = fresh(kind === 'InnerProduct' ? 'fc' : kind === 'Deconvolution' ? 'deconv' : 'conv');
    const biasText = bias ? '' : ' bias_term: false';
    if (kind === 'InnerProduct') {
      const n = pick([2, 3, 4]);
      const k = from.rank === 2 ? from.channels : from.channels * SIDE * SIDE;
      const transpose = chance(0.25) && opts.transposeIP !== false;
      const out = topFor(from, false, n, 2);
      layers.push({
        name,
        type: 'InnerProduct',
        bottoms: [from.name],
        tops: [out.name],
        text: `inner_product_param { num_output: ${n}${biasText}${transpose ? ' transpose: true' : ''} }`,
        blobs: [
          blob(transpose ? [k, n] : [n, k], randn(n * k, Math.sqrt(2 / k))),
          ...(bias ? [blob([n], randn(n, 0.1))] : []),
        ],
      });
      return out;
    }
    const C = from.channels;
    const depthwise = kind === 'Depthwise';
    const n = depthwise ? C : pick([2, 3, 4, 6]);
    const group = depthwise ? C : kind === 'Deconvolution' && n % 2 === 0 && C % 2 === 0 && chance(0.3) ? 2 : 1;
    const k = pick([1, 3]);
    const out = topFor(from, false, n);
    const w = kind === 'Deconvolution' ? [C, n / group, k, k] : [n, C / group, k, k];
    const fanIn = (C / group) * k * k;
    layers.push({
      name,
      type: kind === 'Deconvolution' ? 'Deconvolution' : 'Convolution',
      bottoms: [from.name],
      tops: [out.name],
      text: `convolution_param { num_output: ${n} kernel_size: ${k} pad: ${(k - 1) / 2}${group > 1 ? ` group: ${group}` : ''}${biasText} }`,
      blobs: [
        blob(
          w,
          randn(
            w.reduce((a, b) => a * b, 1),
            Math.sqrt(2 / fanIn),
          ),
        ),
        ...(bias ? [blob([n], randn(n, 0.1))] : []),
      ],
    });
    return out;
  };

  const addBatchNorm = (from: Live, inPlace = chance(0.5)): Live => {
    const out = topFor(from, inPlace);
    const eps = chance(0.3) ? ' batch_norm_param { eps: 0.001 }' : '';
    layers.push({
      name: fresh('bn'),
      type: 'BatchNorm',
      bottoms: [from.name],
      tops: [out.name],
      text: eps.trim() || undefined,
      blobs: bnBlobs(from.channels, chance(0.2) ? 1 : 999.98),
    });
    return out;
  };

  const addScale = (from: Live): Live => {
    const bias = chance(0.7);
    const out = topFor(from, chance(0.5));
    const C = from.channels;
    layers.push({
      name: fresh('scale'),
      type: 'Scale',
      bottoms: [from.name],
      tops: [out.name],
      text: bias ? 'scale_param { bias_term: true }' : undefined,
      blobs: [blob([C], uniform(C, 0.6, 1.4)), ...(bias ? [blob([C], randn(C, 0.2))] : [])],
    });
    return out;
  };

  const addRelu = (from: Live, inPlace = chance(0.7)): Live => {
    const out = topFor(from, inPlace);
    layers.push({ name: fresh('relu'), type: 'ReLU', bottoms: [from.name], tops: [out.name] });
    return out;
  };

  /** Something unrelated to a chain, between its layers: a layer on another blob. */
  const addElsewhere = (busy: Live[]) => {
    const other = live.filter((b) => !busy.includes(b));
    if (other.length) (chance(0.5) ? addRelu : addProducer)(pick(other));
  };

  /**
   * A producer → BatchNorm → Scale chain with awkward company: unrelated layers between, another reader of the
   * producer's output (a branch), an in-place layer that overwrites the producer's output after the BatchNorm
   * read it (the BatchNorm not in place: the case a name-based rewrite gets wrong), a reader of the BatchNorm's
   * output; any part may be missing.
   */
  const addChainMotif = (from: Live) => {
    const p = chance(0.85) ? addProducer(from) : from;
    if (chance(0.2)) addElsewhere([p]);
    if (chance(0.2)) addRelu(p, false);
    const bnInPlace = chance(0.4);
    const y = chance(0.85) ? addBatchNorm(p, bnInPlace) : p;
    if (!bnInPlace && chance(0.35)) addRelu(p, true);
    if (chance(0.2)) addElsewhere([p, y]);
    if (chance(0.15)) addRelu(y, false);
    if (chance(0.8)) addScale(y);
  };

  const addEltwise = () => {
    const a = source(4)!;
    const partners = live.filter((b) => b.rank === 4 && b.channels === a.channels && b.name !== a.name);
    if (!partners.length) return addRelu(a);
    const b = pick(partners);
    const out = topFor(a, false);
    layers.push({
      name: fresh('sum'),
      type: 'Eltwise',
      bottoms: [a.name, b.name],
      tops: [out.name],
      text: chance(0.3) ? 'eltwise_param { operation: PROD }' : undefined,
    });
  };

  const addConcat = () => {
    const a = source(4)!;
    const b = pick(live.filter((x) => x.rank === 4));
    if (a.name === b.name) return addRelu(a);
    const out = topFor(a, false, a.channels + b.channels);
    layers.push({ name: fresh('cat'), type: 'Concat', bottoms: [a.name, b.name], tops: [out.name] });
  };

  const addPool = (from: Live) => {
    const out = topFor(from, false);
    layers.push({
      name: fresh('pool'),
      type: 'Pooling',
      bottoms: [from.name],
      tops: [out.name],
      text: `pooling_param { pool: ${chance(0.5) ? 'MAX' : 'AVE'} kernel_size: 3 stride: 1 pad: 1 }`,
    });
  };

  const target = opts.layers ?? 6 + Math.floor(next() * 14);
  while (layers.length < target) {
    const r = next();
    const from = source()!;
    if (r < 0.35) addChainMotif(from);
    else if (r < 0.45) addProducer(from);
    else if (r < 0.5) addBatchNorm(from);
    else if (r < 0.55) addScale(from);
    else if (r < 0.7) addRelu(from);
    else if (r < 0.85 && from.rank === 4) addEltwise();
    else if (r < 0.92 && from.rank === 4) addConcat();
    else if (from.rank === 4) addPool(from);
    else addRelu(from);
  }
  return { name: `fuzz${seed}`, input: { name: 'data', shape: [1, 3, SIDE, SIDE] }, layers };
}
