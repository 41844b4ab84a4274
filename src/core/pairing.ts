/**
 * Does this caffemodel fit this prototxt, as Caffe's Net::CopyTrainedLayersFrom decides? For every layer of the
 * caffemodel whose name is in the net, the number of blobs must be the one the layer makes in LayerSetUp, and each
 * blob's shape must equal the layer's (Blob::ShapeEquals: legacy num/channels/height/width dims are compared with
 * the shape padded to 4-D with leading 1s). The expected shapes come from the prototxt through shape inference;
 * where a layer type or an input shape is unknown, that check is skipped (only the count is checked where known).
 */
import type { Net, NetLayer } from './net';
import type { BlobInfo, CaffeModel } from './caffemodel';
import { bool, message, num, nums, type PtMessage } from './prototxt';

/** What Caffe's LayerSetUp makes for a layer: the blob count, and per blob the accepted shapes (undefined: unknown). */
export interface ExpectedParams {
  count: number;
  /** Per blob: the shapes accepted (usually one), or undefined when it cannot be inferred. */
  shapes: (number[][] | undefined)[];
  roles: string[];
}

export interface PairProblem {
  layer: string;
  type: string;
  code: 'pair-blob-count' | 'pair-blob-shape';
  /** The message's sentence (without the location). */
  what: string;
}

const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);
/** A dimension read from the prototxt, if it is one Caffe could use. */
const dim = (v: number | undefined): number | undefined =>
  v !== undefined && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
const axisOf = (a: number | undefined, n: number): number | undefined => {
  const v = a ?? 1;
  if (!Number.isSafeInteger(v) || v < -n || v >= n) return undefined;
  return v < 0 ? v + n : v;
};

function kernelOf(p: PtMessage, nSpatial: number): number[] | undefined {
  const kh = dim(num(p, 'kernel_h'));
  const kw = dim(num(p, 'kernel_w'));
  if (kh !== undefined || kw !== undefined)
    return nSpatial === 2 && kh !== undefined && kw !== undefined ? [kh, kw] : undefined;
  const k = nums(p, 'kernel_size').map((v) => dim(v));
  if (k.length === 0 || k.some((v) => v === undefined)) return undefined;
  if (k.length === 1) return Array<number>(nSpatial).fill(k[0]!);
  return k.length === nSpatial ? (k as number[]) : undefined;
}

const CONV = new Set(['Convolution', 'ConvolutionDepthwise', 'DepthwiseConvolution', 'Deconvolution']);

type InputShapes = (number[] | undefined)[];
/** What one layer family makes; undefined when its parameters say too little to tell. */
type ParamRule = (l: NetLayer, ins: InputShapes) => ExpectedParams | undefined;

/** The params Caffe's layer makes, from the prototxt and the inferred input shapes; undefined for types we do not know. */
export function expectedParams(l: NetLayer, ins: (number[] | undefined)[]): ExpectedParams | undefined {
  const rule = PARAM_RULES.get(l.type);
  return rule ? rule(l, ins) : undefined;
}

/** Weights `w` (when known) and, with bias_term, a bias of `n` values. */
function weightsAndBias(w: number[][] | undefined, n: number, bias: boolean): ExpectedParams {
  return { count: bias ? 2 : 1, shapes: bias ? [w, [[n]]] : [w], roles: ['weights', 'bias'] };
}

function convolutionParams(l: NetLayer, ins: InputShapes): ExpectedParams | undefined {
  const p = message(l.msg, 'convolution_param');
  const n = p ? dim(num(p, 'num_output')) : undefined;
  if (!p || n === undefined) return undefined;
  const bias = bool(p, 'bias_term') ?? true;
  return weightsAndBias(convolutionWeights(l.type, p, n, ins[0]), n, bias);
}

/** The accepted weight shapes of a convolution with `n` outputs on input `x`, or undefined when unknown. */
function convolutionWeights(t: string, p: PtMessage, n: number, x: number[] | undefined): number[][] | undefined {
  const axis = x ? axisOf(num(p, 'axis'), x.length) : undefined;
  if (!x || axis === undefined) return undefined;
  let w: number[][] | undefined;
  const k = kernelOf(p, x.length - axis - 1);
  const c = x[axis];
  const depthwise = t === 'ConvolutionDepthwise' || t === 'DepthwiseConvolution';
  const given = dim(num(p, 'group'));
  // The depthwise forks make [num_output, 1, kh, kw] whatever `group` says.
  const group = given ?? (depthwise ? c : 1);
  if (k && x.length - axis - 1 >= 1 && group > 0) {
    if (t === 'Deconvolution') w = n % group === 0 ? [[c, n / group, ...k]] : undefined;
    else if (c % group === 0) w = [[n, c / group, ...k]];
    if (depthwise) w = [...(w ?? []), [n, 1, ...k]];
  }
  return w;
}

function innerProductParams(l: NetLayer, ins: InputShapes): ExpectedParams | undefined {
  const x = ins[0];
  const p = message(l.msg, 'inner_product_param');
  const n = p ? dim(num(p, 'num_output')) : undefined;
  if (!p || n === undefined) return undefined;
  const bias = bool(p, 'bias_term') ?? true;
  let w: number[][] | undefined;
  const axis = x ? axisOf(num(p, 'axis'), x.length) : undefined;
  if (x && axis !== undefined) {
    const k = prod(x.slice(axis));
    w = [bool(p, 'transpose') ? [k, n] : [n, k]];
  }
  return weightsAndBias(w, n, bias);
}

function batchNormParams(l: NetLayer, ins: InputShapes): ExpectedParams {
  const x = ins[0];
  const p = message(l.msg, 'batch_norm_param');
  // NVCaffe's BatchNorm with scale_bias keeps its scale and bias too (5 blobs): its shapes are not checked.
  if (p && bool(p, 'scale_bias')) return { count: 5, shapes: [], roles: [] };
  const c = x ? (x.length === 1 ? 1 : x[1]) : undefined;
  const s = c === undefined ? undefined : [[c]];
  return { count: 3, shapes: [s, s, [[1]]], roles: ['mean', 'variance', 'moving-average factor'] };
}

/** Scale (a factor, and a bias with bias_term) and Bias: shaped like the input's axes [axis, axis + num_axes). */
function scaleOrBiasParams(l: NetLayer, ins: InputShapes): ExpectedParams {
  const x = ins[0];
  const scale = l.type === 'Scale';
  const p = message(l.msg, scale ? 'scale_param' : 'bias_param');
  const bias = scale ? (p ? (bool(p, 'bias_term') ?? false) : false) : true;
  if (l.bottoms.length >= 2) {
    // The scale (or bias) is the second input; only Scale's bias is a blob, shaped like that input.
    if (!scale || !bias) return { count: 0, shapes: [], roles: [] };
    return { count: 1, shapes: [ins[1] ? [ins[1]] : undefined], roles: ['bias'] };
  }
  let s: number[][] | undefined;
  const axis = x ? axisOf(p ? num(p, 'axis') : undefined, x.length) : undefined;
  if (x && axis !== undefined) {
    const na = p ? (num(p, 'num_axes') ?? 1) : 1;
    if (na === -1) s = [x.slice(axis)];
    else if (Number.isSafeInteger(na) && na >= 0 && axis + na <= x.length) s = [x.slice(axis, axis + na)];
  }
  if (!scale) return { count: 1, shapes: [s], roles: ['bias'] };
  return { count: bias ? 2 : 1, shapes: bias ? [s, s] : [s], roles: ['scale', 'bias'] };
}

/** PReLU's slopes and SSD's Normalize scale: one per channel, or one shared. */
function perChannelParams(l: NetLayer, ins: InputShapes): ExpectedParams {
  const x = ins[0];
  const t = l.type;
  const p = message(l.msg, t === 'PReLU' ? 'prelu_param' : 'norm_param');
  const shared = (p ? bool(p, 'channel_shared') : undefined) ?? t === 'Normalize';
  // Caffe makes a shared slope a 0-axis blob; files hold it as [] or [1].
  const s = shared ? [[], [1]] : x ? [[x.length < 2 ? 1 : x[1]]] : undefined;
  return { count: 1, shapes: [s], roles: [t === 'PReLU' ? 'slopes' : 'scale'] };
}

function embedParams(l: NetLayer): ExpectedParams | undefined {
  const p = message(l.msg, 'embed_param');
  const n = p ? dim(num(p, 'num_output')) : undefined;
  const k = p ? dim(num(p, 'input_dim')) : undefined;
  if (!p || n === undefined) return undefined;
  const bias = bool(p, 'bias_term') ?? true;
  const w = k === undefined ? undefined : [[k, n]];
  return weightsAndBias(w, n, bias);
}

// A Map, not an object literal: a layer type such as "constructor" must find no rule.
const PARAM_RULES = new Map<string, ParamRule>([
  ...[...CONV].map((t): [string, ParamRule] => [t, convolutionParams]),
  ['InnerProduct', innerProductParams],
  ['BatchNorm', batchNormParams],
  ['Scale', scaleOrBiasParams],
  ['Bias', scaleOrBiasParams],
  ['PReLU', perChannelParams],
  ['Normalize', perChannelParams],
  ['Embed', embedParams],
]);

/** Caffe's Blob::ShapeEquals(BlobProto): legacy 4-D dims against the shape padded with leading 1s. */
export function shapeMatches(expected: number[], b: BlobInfo): boolean {
  if (b.shapeKind === 'legacy') {
    if (expected.length > 4) return false;
    const padded = [1, 1, 1, 1, ...expected].slice(-4);
    // An unset legacy field reads as 0, as in Caffe.
    return padded.every((d, i) => (b.shape[i] ?? 0) === d);
  }
  // No dims stored at all: Caffe would refuse; the values are accepted when their number fits.
  if (b.shapeKind === 'none') return b.count === prod(expected);
  return b.shape.length === expected.length && b.shape.every((d, i) => d === expected[i]);
}

export const shapeText = (s: number[] | undefined) => (s ? `[${s.join(', ')}]` : '[?]');
function blobShapeText(b: BlobInfo): string {
  if (b.shapeKind === 'legacy')
    return `${shapeText(Array.from({ length: 4 }, (_, i) => b.shape[i] ?? 0))} (legacy num/channels/height/width)`;
  if (b.shapeKind === 'none') return `no shape (${b.count} values)`;
  return shapeText(b.shape);
}
const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;

/**
 * Check every layer of the caffemodel that the net has, in the file's order (as Caffe copies them).
 * Returns the problems found, at most one per layer name.
 */
export function checkPairing(net: Net, model: CaffeModel, shapes: Map<string, number[]>): PairProblem[] {
  // Caffe's layer_names_index_: the last layer of that name.
  const byName = new Map<string, NetLayer>();
  for (const l of net.layers) byName.set(l.name, l);
  const expected = new Map<NetLayer, ExpectedParams | undefined>();
  const problems: PairProblem[] = [];
  const seen = new Set<string>();
  for (const src of model.layers) {
    const l = byName.get(src.name);
    if (!l || seen.has(l.name)) continue;
    if (!expected.has(l))
      expected.set(
        l,
        expectedParams(
          l,
          l.bottomRefs.map((r) => shapes.get(r.id)),
        ),
      );
    const e = expected.get(l);
    if (!e) continue;
    const role = (i: number) => e.roles[i] ?? `param ${i}`;
    if (src.blobs.length !== e.count) {
      // A caffemodel entry without blobs for a layer that makes none is fine; one that makes some has none here.
      const have = src.blobs.length
        ? `${plural(src.blobs.length, 'blob')} in the caffemodel (${src.blobs.map(blobShapeText).join(', ')})`
        : 'no blobs in the caffemodel';
      const want = e.count
        ? `${e.count} (${Array.from({ length: e.count }, (_, i) => `${role(i)} ${shapeText(e.shapes[i]?.[0])}`).join(', ')})`
        : 'none';
      problems.push({
        layer: l.name,
        type: l.type,
        code: 'pair-blob-count',
        what: `${l.type} layer "${l.name}" has ${have}, but the prototxt makes ${want}; Caffe refuses such a pair ("Incompatible number of blobs for layer ${l.name}")`,
      });
      seen.add(l.name);
      continue;
    }
    for (let i = 0; i < e.count; i++) {
      const accepted = e.shapes[i];
      const b = src.blobs[i];
      if (!accepted || accepted.some((s) => shapeMatches(s, b))) continue;
      problems.push({
        layer: l.name,
        type: l.type,
        code: 'pair-blob-shape',
        what: `param ${i} (${role(i)}) of ${l.type} layer "${l.name}" has the shape ${blobShapeText(b)} in the caffemodel, but the prototxt makes it ${accepted.map(shapeText).join(' or ')}; Caffe refuses such a pair ("Cannot copy param ${i} weights from layer '${l.name}'; shape mismatch")`,
      });
      seen.add(l.name);
      break;
    }
  }
  return problems;
}

/** How many blobs a layer needs: from its params where known, else 1 for the types that carry weights. */
export function needsWeights(l: NetLayer, shapes: Map<string, number[]>, weightedTypes: ReadonlySet<string>): boolean {
  const e = expectedParams(
    l,
    l.bottomRefs.map((r) => shapes.get(r.id)),
  );
  return e ? e.count > 0 : weightedTypes.has(l.type);
}
