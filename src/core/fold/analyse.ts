/**
 * Which chains fold, and why the other BatchNorms do not. Works on the structure alone (prototxt only) and,
 * when the caffemodel is loaded, also checks the blobs and the statistics.
 */
import type { Net, NetLayer } from '../net';
import type { BlobInfo, ModelLayer } from '../caffemodel';
import { bool, message, messages, num, str } from '../prototxt';
import type { Analysis, Chain, ChainPattern, Refusal, RefusalCode, Warning } from './types';
import { blobFloats } from './blobs';
import { checkWiring, rewire, topRuleViolation, valueModel, type Placement } from './wiring';

export const PRODUCER_TYPES: ReadonlySet<string> = new Set([
  'Convolution',
  'Deconvolution',
  'InnerProduct',
  'ConvolutionDepthwise',
  'DepthwiseConvolution',
]);

const SHORT: Record<string, string> = {
  Convolution: 'Conv',
  Deconvolution: 'Deconv',
  InnerProduct: 'IP',
  ConvolutionDepthwise: 'DWConv',
  DepthwiseConvolution: 'DWConv',
};

export function chainLabel(pattern: ChainPattern, producerType?: string): string {
  const p = producerType ? (SHORT[producerType] ?? producerType) : '';
  switch (pattern) {
    case 'producer-bn-scale':
      return `${p}+BN+Scale`;
    case 'producer-bn':
      return `${p}+BN`;
    case 'producer-scale':
      return `${p}+Scale`;
    case 'bn-scale':
      return 'BN+Scale→Scale';
  }
}

/** The parameter block that holds bias_term / num_output for a producer type. */
export function producerParamName(type: string): 'convolution_param' | 'inner_product_param' {
  return type === 'InnerProduct' ? 'inner_product_param' : 'convolution_param';
}

export interface ProducerInfo {
  outChannels: number | undefined;
  hasBias: boolean;
  group: number;
  transpose: boolean;
}

export function producerInfo(layer: NetLayer): ProducerInfo {
  const p = message(layer.msg, producerParamName(layer.type));
  return {
    outChannels: p ? num(p, 'num_output') : undefined,
    hasBias: p ? bool(p, 'bias_term') !== false : true,
    group: (p && layer.type !== 'InnerProduct' ? num(p, 'group') : undefined) ?? 1,
    transpose: layer.type === 'InnerProduct' && p ? bool(p, 'transpose') === true : false,
  };
}

/**
 * BatchNorm parameters as Caffe reads them: `use_global_stats` defaults to true in the TEST phase and to false in
 * TRAIN (batch_norm_layer.cpp), the phase being the layer's own or the net's.
 */
export function bnParams(layer: NetLayer): { eps: number; useGlobalStats: boolean; explicit: boolean } {
  const p = message(layer.msg, 'batch_norm_param');
  const set = p ? bool(p, 'use_global_stats') : undefined;
  return {
    eps: (p && num(p, 'eps')) ?? 1e-5,
    useGlobalStats: set ?? layer.phase === 'TEST',
    explicit: set !== undefined,
  };
}

export function scaleParams(layer: NetLayer): { axis: number; numAxes: number; biasTerm: boolean } {
  const p = message(layer.msg, 'scale_param');
  return {
    axis: (p && num(p, 'axis')) ?? 1,
    numAxes: (p && num(p, 'num_axes')) ?? 1,
    biasTerm: p ? bool(p, 'bias_term') === true : false,
  };
}

function paramNames(layer: NetLayer): string[] {
  return messages(layer.msg, 'param')
    .map((p) => str(p, 'name'))
    .filter((n): n is string => !!n);
}

const count = (b: BlobInfo | undefined) => (b ? b.count : 0);

export interface AnalyseOptions {
  /** Layer name → weights; when given, blobs and statistics are checked too. */
  weights?: Map<string, ModelLayer>;
  zeroFactor?: 'caffe' | 'one';
}

/** Why a layer cannot take part in a fold. */
type Problem = { code: RefusalCode; reason: string };

/**
 * What the analysis has decided so far. The BatchNorms are taken in file order and each decision depends on the
 * ones before it: a producer or Scale that one chain claims cannot serve another.
 */
interface Analysing {
  net: Net;
  weights: Map<string, ModelLayer> | undefined;
  zeroFactor: 'caffe' | 'one';
  /** param name → how many layers use it (weight sharing). */
  paramUse: Map<string, number>;
  chains: Chain[];
  refusals: Refusal[];
  warnings: Warning[];
  /** Indices of the layers some chain already holds. */
  claimed: Set<number>;
}

export function analyse(net: Net, opts: AnalyseOptions = {}): Analysis {
  const ctx: Analysing = {
    net,
    weights: opts.weights,
    zeroFactor: opts.zeroFactor ?? 'caffe',
    paramUse: paramUse(net),
    chains: [],
    refusals: [],
    warnings: [],
    claimed: new Set<number>(),
  };
  for (const bn of net.layers) if (bn.type === 'BatchNorm') analyseBatchNorm(ctx, bn);
  // producer → Scale with no BatchNorm between.
  for (const s of net.layers) if (s.type === 'Scale' && !ctx.claimed.has(s.index)) analyseLoneScale(ctx, s);
  const chains = placeInFileOrder(net, ctx.chains, ctx.refusals);
  return { chains, refusals: ctx.refusals, warnings: ctx.warnings };
}

/** The chains sorted by their first layer, those with ambiguous names refused, the rest placed (placeChains). */
function placeInFileOrder(net: Net, chains: Chain[], refusals: Refusal[]): Chain[] {
  const order = new Map(net.layers.map((l) => [l.name, l.index]));
  chains.sort((x, y) => (order.get(x.layers[0]) ?? 0) - (order.get(y.layers[0]) ?? 0));
  const repeated = repeatedNames(net);
  const placed = placeChains(
    net,
    chains.filter((c) => !ambiguousName(repeated, c, refusals)),
    refusals,
  );
  return placed.map((p) => p.chain);
}

/**
 * One BatchNorm: refused for itself (mode, arity, blobs), else folded into its producer (with the Scale after it,
 * if any), else merged with that Scale into one Scale, else refused with why neither applies.
 */
function analyseBatchNorm(ctx: Analysing, bn: NetLayer): void {
  const own = batchNormProblem(ctx, bn);
  if ('code' in own) {
    refuse(ctx, bn, own.code, own.reason);
    if (own.warn) ctx.warnings.push({ layer: bn.name, message: own.reason });
    return;
  }
  const { scale, scaleNote } = scalePartner(ctx, bn, own.channels);
  const producer = producerOf(ctx.net, bn);
  const problem = producerProblem(ctx, producer, bn, own.channels);
  if (!problem && producer) return addChain(ctx, producer, bn, scale);
  if (scale) return addChain(ctx, undefined, bn, scale);
  // Why the other way out, one Scale layer replacing BN + Scale, does not apply either.
  const structural =
    problem!.code === 'bn-input-not-foldable' ||
    problem!.code === 'producer-output-shared' ||
    problem!.code === 'producer-weights-shared';
  const alternative = scaleNote
    ? `; and ${scaleNote.reason}`
    : structural
      ? '; no per-channel Scale follows it, so it cannot be merged into one either'
      : '';
  refuse(ctx, bn, problem!.code, problem!.reason + alternative);
}

/** A Scale that no BatchNorm chain took: folded into its producer when both allow it, else left alone silently. */
function analyseLoneScale(ctx: Analysing, s: NetLayer): void {
  if (scaleProblem(s, ctx.weights)) return;
  const p = producerOf(ctx.net, s);
  if (!p || !PRODUCER_TYPES.has(p.type)) return;
  const channels = ctx.weights ? count(ctx.weights.get(s.name)?.blobs[0]) : undefined;
  if (producerProblem(ctx, p, s, channels)) return;
  addChain(ctx, p, undefined, s);
}

/**
 * Why this BatchNorm cannot fold whatever surrounds it — its mode, its bottoms and tops, its blobs and statistics
 * (`warn`: the model is damaged, which is worth a warning too) — or else its channel count from the blobs.
 */
function batchNormProblem(
  ctx: Analysing,
  bn: NetLayer,
): (Problem & { warn?: true }) | { channels: number | undefined } {
  const { eps, useGlobalStats, explicit } = bnParams(bn);
  if (!useGlobalStats) {
    return {
      code: 'bn-batch-stats',
      reason: explicit
        ? 'use_global_stats: false — it normalises with the statistics of each batch at inference, so no fixed per-channel factor can replace it'
        : `it runs in the TRAIN phase (${bn.phase === ctx.net.phase ? "the net's state { phase: TRAIN }" : 'its own phase: TRAIN'}) with use_global_stats unset, so Caffe normalises with the statistics of each batch and no fixed per-channel factor can replace it`,
    };
  }
  if (bn.bottoms.length !== 1 || bn.tops.length !== 1) {
    return {
      code: 'bn-input-not-foldable',
      reason: `it has ${bn.bottoms.length} bottoms and ${bn.tops.length} tops; a BatchNorm has one of each`,
    };
  }
  if (!ctx.weights) return { channels: undefined };
  const w = ctx.weights.get(bn.name);
  if (!w || w.blobs.length < 3) {
    return {
      code: 'blobs-missing',
      reason: w
        ? `it has ${w.blobs.length} blobs in the caffemodel, not 3 (mean, variance, factor)`
        : 'it has no weights in the caffemodel',
    };
  }
  const channels = count(w.blobs[0]);
  if (count(w.blobs[1]) !== channels || count(w.blobs[2]) < 1) {
    return {
      code: 'blobs-shape',
      reason: `its blobs have ${count(w.blobs[0])}, ${count(w.blobs[1])} and ${count(w.blobs[2])} values; expected C, C and 1`,
    };
  }
  const bad = badStatistics(w, eps, ctx.zeroFactor);
  if (bad) return { code: 'bad-statistics', reason: bad, warn: true };
  return { channels };
}

/**
 * The BatchNorm's Scale partner: the only reader of its output, not yet claimed, one bottom, per channel, with
 * as many channels. `scaleNote` says why such a reader does not qualify.
 */
function scalePartner(
  ctx: Analysing,
  bn: NetLayer,
  channels: number | undefined,
): { scale?: NetLayer; scaleNote?: Problem } {
  const next = onlyReader(ctx.net, bn.topRefs[0].id);
  if (!next || next.type !== 'Scale' || ctx.claimed.has(next.index)) return {};
  let scaleNote = scaleProblem(next, ctx.weights);
  if (!scaleNote && ctx.weights && channels !== undefined && count(ctx.weights.get(next.name)?.blobs[0]) !== channels) {
    scaleNote = {
      code: 'blobs-shape',
      reason: `Scale "${next.name}" has ${count(ctx.weights.get(next.name)?.blobs[0])} values, BatchNorm has ${channels}`,
    };
  }
  return scaleNote ? { scaleNote } : { scale: next };
}

/** Why this Scale layer cannot take part in a per-channel fold, or undefined. */
function scaleProblem(s: NetLayer, weights: Map<string, ModelLayer> | undefined): Problem | undefined {
  if (s.bottoms.length !== 1)
    return {
      code: 'scale-two-bottoms',
      reason: `Scale "${s.name}" has ${s.bottoms.length} bottoms: its multiplier is a blob computed at run time, not a per-channel constant`,
    };
  const sp = scaleParams(s);
  if (sp.axis !== 1)
    return {
      code: 'scale-axis',
      reason: `Scale "${s.name}" has axis: ${sp.axis}; only per-channel scaling (axis 1) folds`,
    };
  if (sp.numAxes !== 1)
    return {
      code: 'scale-num-axes',
      reason: `Scale "${s.name}" has num_axes: ${sp.numAxes}; only per-channel scaling (num_axes 1) folds`,
    };
  if (weights) {
    const w = weights.get(s.name);
    if (!w || w.blobs.length === 0)
      return { code: 'blobs-missing', reason: `Scale "${s.name}" has no weights in the caffemodel` };
    const C = count(w.blobs[0]);
    if (sp.biasTerm && (w.blobs.length < 2 || count(w.blobs[1]) !== C))
      return {
        code: 'blobs-shape',
        reason: `Scale "${s.name}" has bias_term: true but its bias blob is missing or has the wrong size`,
      };
  }
  return undefined;
}

/** Why this producer cannot absorb a per-channel affine map on its output, or undefined. */
function producerProblem(
  ctx: Analysing,
  p: NetLayer | undefined,
  reader: NetLayer,
  channels: number | undefined,
): Problem | undefined {
  if (!p)
    return {
      code: 'bn-input-not-foldable',
      reason: `its input "${reader.bottoms[0]}" is a net input, not the output of a convolution or inner product`,
    };
  if (!PRODUCER_TYPES.has(p.type)) {
    return {
      code: 'bn-input-not-foldable',
      reason: `its input comes from ${p.type} "${p.name}", not from a Convolution, Deconvolution or InnerProduct`,
    };
  }
  if (ctx.claimed.has(p.index))
    return { code: 'producer-output-shared', reason: `${p.type} "${p.name}" already absorbs another chain` };
  if (p.topRefs.length !== 1)
    return { code: 'producer-output-shared', reason: `${p.type} "${p.name}" has ${p.topRefs.length} tops` };
  const readers = ctx.net.consumers.get(p.topRefs[0].id) ?? [];
  if (readers.length !== 1) {
    const others = readers.filter((i) => i !== reader.index).map((i) => `"${ctx.net.layers[i].name}"`);
    return {
      code: 'producer-output-shared',
      reason: `the output of ${p.type} "${p.name}" is also read by ${others.join(', ')}, which must keep seeing the unnormalised values`,
    };
  }
  if (sharesWeights(ctx, p))
    return {
      code: 'producer-weights-shared',
      reason: `${p.type} "${p.name}" shares its weights with another layer (param name), so they cannot be rescaled for one use`,
    };
  return ctx.weights ? producerBlobsProblem(p, ctx.weights.get(p.name), reader, channels) : undefined;
}

/** Why the producer's blobs in the caffemodel cannot be rescaled for `reader`'s channels, or undefined. */
function producerBlobsProblem(
  p: NetLayer,
  w: ModelLayer | undefined,
  reader: NetLayer,
  channels: number | undefined,
): Problem | undefined {
  const info = producerInfo(p);
  if (!w || w.blobs.length === 0)
    return { code: 'blobs-missing', reason: `${p.type} "${p.name}" has no weights in the caffemodel` };
  const wantBlobs = info.hasBias ? 2 : 1;
  if (w.blobs.length !== wantBlobs) {
    return {
      code: 'blobs-shape',
      reason: `${p.type} "${p.name}" has ${w.blobs.length} blobs in the caffemodel but bias_term says ${wantBlobs}`,
    };
  }
  const W = w.blobs[0];
  const declared = W.shape.reduce((x, d) => x * d, 1);
  if (W.shape.length && declared !== W.count) {
    return {
      code: 'blobs-shape',
      reason: `the weights of ${p.type} "${p.name}" declare the shape [${W.shape.join(', ')}] (${declared} values) but hold ${W.count}: the caffemodel is damaged`,
    };
  }
  if (p.type !== 'InnerProduct' && W.shape.length < 2) {
    return {
      code: 'blobs-shape',
      reason: `the weights of ${p.type} "${p.name}" have ${W.shape.length ? `the shape [${W.shape.join(', ')}]` : 'no shape'}; a convolution's are [out, in, kernel…]`,
    };
  }
  const C = producerOutChannels(p, w);
  if (C === undefined || C <= 0)
    return { code: 'blobs-shape', reason: `the weights of ${p.type} "${p.name}" do not match its num_output/group` };
  if (channels !== undefined && C !== channels) {
    return {
      code: 'blobs-shape',
      reason: `${p.type} "${p.name}" has ${C} output channels but "${reader.name}" has ${channels}`,
    };
  }
  if (info.hasBias && count(w.blobs[1]) !== C)
    return {
      code: 'blobs-shape',
      reason: `the bias of ${p.type} "${p.name}" has ${count(w.blobs[1])} values, not ${C}`,
    };
  return undefined;
}

/** Record a chain — producer and/or BatchNorm and/or Scale — and claim its layers. */
function addChain(
  ctx: Analysing,
  producer: NetLayer | undefined,
  bn: NetLayer | undefined,
  scale: NetLayer | undefined,
): void {
  const pattern: ChainPattern = !producer
    ? 'bn-scale'
    : bn
      ? scale
        ? 'producer-bn-scale'
        : 'producer-bn'
      : 'producer-scale';
  const layers = [producer, bn, scale].filter((l): l is NetLayer => !!l);
  // BN+Scale→Scale keeps the Scale (it takes the BatchNorm's input); otherwise the producer absorbs the rest.
  const target = producer ?? scale!;
  ctx.chains.push({
    id: (producer ?? bn ?? scale)!.name,
    pattern,
    label: chainLabel(pattern, producer?.type),
    target: target.name,
    producer: producer?.name,
    bn: bn?.name,
    scale: scale?.name,
    layers: layers.map((l) => l.name),
    removed: layers.filter((l) => l !== target).map((l) => l.name),
    outputTop: layers[layers.length - 1].tops[0],
  });
  for (const l of layers) ctx.claimed.add(l.index);
}

function refuse(ctx: Analysing, l: NetLayer, code: RefusalCode, reason: string): void {
  ctx.refusals.push({ layer: l.name, type: l.type, code, reason });
}

/** Weight sharing: how many layers use each param name. */
function paramUse(net: Net): Map<string, number> {
  const use = new Map<string, number>();
  for (const l of net.layers) for (const n of paramNames(l)) use.set(n, (use.get(n) ?? 0) + 1);
  return use;
}

function sharesWeights(ctx: Analysing, l: NetLayer): boolean {
  return paramNames(l).some((n) => (ctx.paramUse.get(n) ?? 0) > 1);
}

function onlyReader(net: Net, blobId: string): NetLayer | undefined {
  const readers = net.consumers.get(blobId) ?? [];
  return readers.length === 1 ? net.layers[readers[0]] : undefined;
}

/** The layer that wrote the value `l` reads first; undefined for a net input. */
function producerOf(net: Net, l: NetLayer): NetLayer | undefined {
  const idx = net.producer.get(l.bottomRefs[0]?.id ?? '');
  return idx === undefined || idx < 0 ? undefined : net.layers[idx];
}

/** The refusal of a whole chain, filed under its BatchNorm (or its Scale). */
export function chainRefusal(c: Chain, code: RefusalCode, reason: string): Refusal {
  return { layer: c.bn ?? c.scale ?? c.id, type: c.bn ? 'BatchNorm' : 'Scale', code, reason };
}

/**
 * Caffe pairs weights with layers by name, and the fold edits layers by name: a chain whose layers' names are
 * not unique in the net cannot be rewritten without guessing which layer is meant.
 */
/** Names that more than one layer has: counted once per net (a filter per chain layer took ~0.5 s on 10k layers). */
function repeatedNames(net: Net): Set<string> {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const l of net.layers) (seen.has(l.name) ? repeated : seen).add(l.name);
  return repeated;
}

function ambiguousName(repeated: Set<string>, c: Chain, refusals: Refusal[]): boolean {
  const name = c.layers.find((n) => !n || repeated.has(n));
  if (name === undefined) return false;
  refusals.push(
    chainRefusal(
      c,
      'layer-name-ambiguous',
      name
        ? `the net has more than one layer named "${name}": weights are matched to layers by name, so which one folds is ambiguous`
        : 'a layer of the chain has no name: weights are matched to layers by name',
    ),
  );
  return true;
}

/**
 * Place each chain's surviving layer so that the folded net wires the same values as the original (see
 * wiring.ts), chain by chain in file order, each checked together with those placed before it. A producer stays
 * where it is. A BatchNorm+Scale merged into one Scale stays at the Scale's position when it still sees there
 * the value the BatchNorm read, else it takes the BatchNorm's position. A chain that fits nowhere is refused.
 */
export function placeChains(net: Net, chains: Chain[], refusals: Refusal[]): Placement[] {
  const model = valueModel(net);
  // A net Caffe accepts must stay one it accepts (no top written twice unless in place).
  const keepTopRule = !topRuleViolation(net.layers, model.inputs);
  const problemOf = (trial: Placement[]) => {
    const wired = rewire(net, trial);
    return (
      checkWiring(model, trial, wired, model.inputs) ??
      (keepTopRule ? topRuleViolation(wired, model.inputs) : undefined)
    );
  };
  const at = (chain: Chain, spot: string): Placement => ({
    chain: { ...chain, moveTo: spot === chain.target ? undefined : spot },
    at: spot,
  });
  // Most nets fold with every surviving layer in its own place: one check, linear in the layers.
  const inPlace = chains.map((c) => at(c, c.target));
  if (!problemOf(inPlace)) return inPlace;
  // Otherwise chain by chain, each checked together with those placed before it (chains × layers).
  const placed: Placement[] = [];
  for (const chain of chains) {
    const spots = chain.pattern === 'bn-scale' ? [chain.target, chain.bn!] : [chain.target];
    let problem: ReturnType<typeof checkWiring>;
    for (const spot of spots) {
      const trial = [...placed, at(chain, spot)];
      problem = problemOf(trial);
      if (!problem) {
        placed.push(trial[trial.length - 1]);
        break;
      }
    }
    if (problem)
      refusals.push(
        chainRefusal(chain, 'rewire-conflict', `folding it would change what the net computes: ${problem.message}`),
      );
  }
  return placed;
}

/** Output channels of a producer from its blobs (and num_output/group), or undefined when they disagree. */
export function producerOutChannels(p: NetLayer, w: ModelLayer): number | undefined {
  const info = producerInfo(p);
  const W = w.blobs[0];
  const shape = W.shape.length ? W.shape : [W.count];
  let C: number | undefined;
  if (p.type === 'InnerProduct') {
    const N = info.outChannels ?? (info.hasBias ? count(w.blobs[1]) : undefined);
    if (N === undefined || N <= 0 || W.count % N !== 0) return undefined;
    const last = shape[shape.length - 1];
    const rows = shape.length >= 2 ? shape[shape.length - 2] : undefined;
    if (info.transpose ? last !== N : rows !== undefined && rows !== N && shape.length > 1) return undefined;
    C = N;
  } else if (p.type === 'Deconvolution') {
    if (shape.length < 2) return undefined;
    C = shape[1] * info.group;
    if (info.outChannels !== undefined && info.outChannels !== C) return undefined;
  } else {
    C = shape[0];
    if (info.outChannels !== undefined && info.outChannels !== C) return undefined;
  }
  return C;
}

function badStatistics(w: ModelLayer, eps: number, zeroFactor: 'caffe' | 'one'): string | undefined {
  const mean = blobFloats(w.blobs[0]);
  const v = blobFloats(w.blobs[1]);
  const f = blobFloats(w.blobs[2])[0];
  if (!Number.isFinite(f)) return `its moving-average factor is ${f}`;
  const s = f === 0 ? (zeroFactor === 'one' ? 1 : 0) : 1 / f;
  for (let c = 0; c < v.length; c++) {
    const variance = v[c] * s;
    if (!Number.isFinite(variance) || !Number.isFinite(mean[c] * s))
      return `channel ${c} has a non-finite statistic (mean ${mean[c]}, variance ${v[c]}): the model is damaged`;
    if (variance + eps <= 0)
      return `channel ${c} has a negative variance (${variance}) that eps ${eps} does not cover: the model is damaged`;
  }
  return undefined;
}
