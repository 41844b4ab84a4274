/**
 * Shape inference for the common layers, following Caffe's own formulas (conv: floor; pooling: ceil with Caffe's
 * clip rule). Unknown layer types leave their tops without a shape and note a problem; nothing here throws.
 */
import type { Net, NetLayer } from '../net';
import { bool, message, messages, num, nums, str, type PtMessage } from '../prototxt';

export interface ShapeResult {
  /** Blob id (`name@version`) → shape. */
  shapes: Map<string, number[]>;
  problems: { layer: string; message: string }[];
}

export function channelsOf(shape: number[] | undefined, axis = 1): number | undefined {
  return shape && shape.length > axis ? shape[axis] : undefined;
}

const prod = (a: number[]) => a.reduce((x, y) => x * y, 1);

const SAME = new Set([
  'BatchNorm',
  'Scale',
  'Bias',
  'ReLU',
  'PReLU',
  'ELU',
  'Sigmoid',
  'TanH',
  'AbsVal',
  'Power',
  'Exp',
  'Log',
  'BNLL',
  'Dropout',
  'LRN',
  'MVN',
  'Threshold',
  'Clip',
  'Swish',
  'Normalize',
  'ShuffleChannel',
  'Softmax',
  'ReLU6',
  'HardSwish',
  'Mish',
  'GELU',
  'Silence',
]);
const DATA = new Set(['Data', 'ImageData', 'AnnotatedData', 'HDF5Data', 'WindowData', 'VideoData']);
const SCALAR = /Loss$|^Accuracy$/;

/** Spatial parameters of convolution/pooling: repeated or scalar, with _h/_w overrides. */
function geometry(p: PtMessage | undefined, nSpatial: number, pooling: boolean) {
  const pick = (rep: string, h: string, w: string, dflt: number): number[] => {
    const hv = p ? num(p, h) : undefined;
    const wv = p ? num(p, w) : undefined;
    if (hv !== undefined || wv !== undefined) return [hv ?? dflt, wv ?? dflt];
    const v = p ? nums(p, rep) : [];
    return Array.from({ length: nSpatial }, (_, i) => v[Math.min(i, v.length - 1)] ?? dflt);
  };
  return {
    kernel: pick('kernel_size', 'kernel_h', 'kernel_w', pooling ? 0 : 1),
    stride: pick('stride', 'stride_h', 'stride_w', 1),
    pad: pick('pad', 'pad_h', 'pad_w', 0),
    dilation: pooling ? Array(nSpatial).fill(1) : pick('dilation', '', '', 1),
  };
}

export function inferShapes(net: Net, opts: { inputShape?: number[] } = {}): ShapeResult {
  const shapes = new Map<string, number[]>();
  const problems: ShapeResult['problems'] = [];
  for (const i of net.inputs) {
    const s = i.shape ?? opts.inputShape;
    if (s) shapes.set(i.ref.id, s);
  }
  let dataFed = false;
  for (const l of net.layers) {
    try {
      const ins = l.bottomRefs.map((r) => shapes.get(r.id));
      const outs = layerShapes(l, ins, () => {
        if (dataFed || !opts.inputShape) return undefined;
        dataFed = true;
        return opts.inputShape;
      });
      if (outs === undefined) {
        if (ins.every((s) => s !== undefined)) problems.push({ layer: l.name, message: `no shape rule for ${l.type}` });
        continue;
      }
      outs.forEach((s, k) => {
        if (!s) return;
        if (s.some((d) => !Number.isFinite(d) || d < 0)) {
          problems.push({
            layer: l.name,
            message: `inferred an impossible shape [${s.join(', ')}] for "${l.tops[k]}"`,
          });
          return;
        }
        if (l.topRefs[k]) shapes.set(l.topRefs[k].id, s);
      });
    } catch (e) {
      problems.push({ layer: l.name, message: (e as Error).message });
    }
  }
  return { shapes, problems };
}

type Shape = number[] | undefined;

/** Shapes of a layer that reads no blob: a net's data source. `dataShape` hands out the given input shape once. */
type SourceRule = (l: NetLayer, dataShape: () => number[] | undefined) => Shape[];
/** Shapes of a layer's tops from its first input `x` (all inputs in `ins`); undefined when no rule applies. */
type Rule = (l: NetLayer, x: number[], ins: Shape[]) => Shape[] | undefined;

function layerShapes(l: NetLayer, ins: Shape[], dataShape: () => number[] | undefined): Shape[] | undefined {
  const source = SOURCES.get(l.type);
  if (source) return source(l, dataShape);
  if (SCALAR.test(l.type)) return l.tops.map(() => []);
  const x = ins[0];
  // An unknown input shape leaves the tops unknown, for every type (no "no shape rule" problem either).
  if (!x) return l.tops.map(() => undefined);
  const rule = RULES.get(l.type);
  return rule ? rule(l, x, ins) : undefined;
}

// --- Data sources ---

/** Input and DummyData: the shapes written in the layer, the last one repeated for further tops. */
const declaredShapes =
  (paramName: string): SourceRule =>
  (l) => {
    const p = message(l.msg, paramName);
    const ss = p ? messages(p, 'shape').map((m) => nums(m, 'dim')) : [];
    return l.tops.map((_, i) => ss[Math.min(i, ss.length - 1)]);
  };

/** Data layers read files we do not have: only the input shape the user gave, for the first top (the data). */
const dataLayerShapes: SourceRule = (l, dataShape) => {
  const first = dataShape();
  return l.tops.map((_, i) => (i === 0 ? first : undefined));
};

const memoryDataShapes: SourceRule = (l) => {
  const p = message(l.msg, 'memory_data_param');
  if (!p) return [undefined];
  return [
    [num(p, 'batch_size') ?? 1, num(p, 'channels') ?? 1, num(p, 'height') ?? 1, num(p, 'width') ?? 1],
    [num(p, 'batch_size') ?? 1],
  ];
};

// --- Layers with parameters of their own ---

const sameShape: Rule = (l, x) => l.tops.map(() => x);

/** Convolution and Deconvolution, per spatial axis (Caffe's conv_layer.cpp / deconv_layer.cpp). */
const convolutionShapes: Rule = (l, x) => {
  const p = message(l.msg, 'convolution_param');
  const n = p ? num(p, 'num_output') : undefined;
  if (n === undefined) throw new Error('convolution_param.num_output is missing');
  const sp = x.slice(2);
  const g = geometry(p, sp.length, false);
  const out = sp.map((d, i) => {
    const k = g.kernel[i];
    const ek = g.dilation[i] * (k - 1) + 1;
    if (g.stride[i] <= 0) throw new Error(`stride ${g.stride[i]} is not positive`);
    if (l.type === 'Deconvolution') return g.stride[i] * (d - 1) + ek - 2 * g.pad[i];
    const o = Math.floor((d + 2 * g.pad[i] - ek) / g.stride[i]) + 1;
    if (o < 1) throw new Error(`kernel ${k} does not fit an input of ${d} (pad ${g.pad[i]})`);
    return o;
  });
  return [[x[0], n, ...out]];
};

/** Pooling rounds up unless round_mode: FLOOR, and drops a last window that would start in the padding. */
const poolingShapes: Rule = (l, x) => {
  const p = message(l.msg, 'pooling_param');
  const sp = x.slice(2);
  if (p && bool(p, 'global_pooling')) return [[x[0], x[1], ...sp.map(() => 1)]];
  const g = geometry(p, sp.length, true);
  const floorMode = p ? str(p, 'round_mode') === 'FLOOR' : false;
  const out = sp.map((d, i) => {
    const k = g.kernel[i];
    if (!k) throw new Error('pooling kernel_size is missing');
    if (g.stride[i] <= 0) throw new Error(`stride ${g.stride[i]} is not positive`);
    const r = (d + 2 * g.pad[i] - k) / g.stride[i];
    let o = (floorMode ? Math.floor(r) : Math.ceil(r)) + 1;
    if (g.pad[i] && (o - 1) * g.stride[i] >= d + g.pad[i]) o--;
    return o;
  });
  return [[x[0], x[1], ...out]];
};

const innerProductShapes: Rule = (l, x) => {
  const p = message(l.msg, 'inner_product_param');
  const n = p ? num(p, 'num_output') : undefined;
  if (n === undefined) throw new Error('inner_product_param.num_output is missing');
  const axis = normAxis((p && num(p, 'axis')) ?? 1, x.length);
  return [[...x.slice(0, axis), n]];
};

/** Axpy computes a·x + y from its inputs (a, x, y): the shape of y. */
const axpyShapes: Rule = (_l, x, ins) => [ins[2] ?? ins[1] ?? x];

// --- Layers that join, split or rearrange axes ---

const concatShapes: Rule = (l, x, ins) => {
  const p = message(l.msg, 'concat_param');
  const axis = normAxis((p && (num(p, 'axis') ?? num(p, 'concat_dim'))) ?? 1, x.length);
  if (ins.some((s) => !s)) return [undefined];
  const out = x.slice();
  out[axis] = ins.reduce((a, s) => a + s![axis], 0);
  return [out];
};

const sliceShapes: Rule = (l, x) => {
  const p = message(l.msg, 'slice_param');
  const axis = normAxis((p && (num(p, 'axis') ?? num(p, 'slice_dim'))) ?? 1, x.length);
  const points = p ? nums(p, 'slice_point') : [];
  const total = x[axis];
  const bounds = points.length
    ? [0, ...points, total]
    : Array.from({ length: l.tops.length + 1 }, (_, i) => (i * total) / l.tops.length);
  return l.tops.map((_, i) => {
    const s = x.slice();
    s[axis] = bounds[i + 1] - bounds[i];
    return s;
  });
};

const flattenShapes: Rule = (l, x) => {
  const p = message(l.msg, 'flatten_param');
  const a = normAxis((p && num(p, 'axis')) ?? 1, x.length);
  const e = normAxis((p && num(p, 'end_axis')) ?? -1, x.length);
  return [[...x.slice(0, a), prod(x.slice(a, e + 1)), ...x.slice(e + 1)]];
};

/** Reshape: dim 0 copies the input's dim, one dim -1 takes what is left. */
const reshapeShapes: Rule = (l, x) => {
  const p = message(l.msg, 'reshape_param');
  const sm = p ? message(p, 'shape') : undefined;
  const dims = sm ? nums(sm, 'dim') : [];
  const axis = normAxis((p && num(p, 'axis')) ?? 0, x.length + 1);
  const numAxes = (p && num(p, 'num_axes')) ?? -1;
  const end = numAxes === -1 ? x.length : axis + numAxes;
  const mid = dims.map((d, i) => (d === 0 ? x[axis + i] : d));
  const known = prod(x) / (prod(x.slice(0, axis)) * prod(x.slice(end)));
  const inferIdx = mid.indexOf(-1);
  if (inferIdx >= 0) mid[inferIdx] = known / prod(mid.filter((d) => d !== -1));
  return [[...x.slice(0, axis), ...mid, ...x.slice(end)]];
};

const permuteShapes: Rule = (l, x) => {
  const p = message(l.msg, 'permute_param');
  const order = p ? nums(p, 'order') : [];
  const full = [...order, ...x.map((_, i) => i).filter((i) => !order.includes(i))];
  return [full.map((i) => x[i])];
};

/** Crop: the first input's dims up to `axis`, the reference's (second input) from there. */
const cropShapes: Rule = (l, x, ins) => {
  const ref = ins[1];
  if (!ref) return [undefined];
  const p = message(l.msg, 'crop_param');
  const axis = normAxis((p && num(p, 'axis')) ?? 2, x.length);
  return [[...x.slice(0, axis), ...ref.slice(axis)]];
};

const tileShapes: Rule = (l, x) => {
  const p = message(l.msg, 'tile_param');
  const axis = normAxis((p && num(p, 'axis')) ?? 1, x.length);
  const s = x.slice();
  s[axis] *= (p && num(p, 'tiles')) ?? 1;
  return [s];
};

// --- Detection and resizing layers (SSD, Faster R-CNN, segmentation forks) ---

/** SSD's PriorBox: per cell and prior, 4 box coordinates (channel 0) and their 4 variances (channel 1). */
const priorBoxShapes: Rule = (l, x) => {
  const p = message(l.msg, 'prior_box_param');
  const minS = p ? nums(p, 'min_size').length : 1;
  const maxS = p ? nums(p, 'max_size').length : 0;
  const ars = p ? nums(p, 'aspect_ratio').filter((a) => Math.abs(a - 1) > 1e-6) : [];
  const flip = p ? bool(p, 'flip') !== false : true;
  const nPriors = minS * (1 + ars.length * (flip ? 2 : 1)) + maxS;
  return [[1, 2, x[2] * x[3] * nPriors * 4]];
};

/** Interp and Upsample: an explicit height and width, else the spatial size times a factor (2 by default). */
const resizeShapes =
  (paramName: string): Rule =>
  (l, x) => {
    const p = message(l.msg, paramName);
    const h = p && num(p, 'height');
    const w = p && num(p, 'width');
    if (h && w) return [[x[0], x[1], h, w]];
    const z = (p && (num(p, 'zoom_factor') ?? num(p, 'scale'))) ?? 2;
    return [[x[0], x[1], x[2] * z, x[3] * z]];
  };

/** ROIPooling: one pooled map per region, the regions (second input) giving the batch. */
const roiPoolingShapes: Rule = (l, x, ins) => {
  const p = message(l.msg, 'roi_pooling_param');
  return [[ins[1]?.[0] ?? 1, x[1], (p && num(p, 'pooled_h')) ?? 1, (p && num(p, 'pooled_w')) ?? 1]];
};

// A Map, not an object literal: a layer type such as "constructor" must find no rule.
const SOURCES = new Map<string, SourceRule>([
  ['Input', declaredShapes('input_param')],
  ['DummyData', declaredShapes('dummy_data_param')],
  ['MemoryData', memoryDataShapes],
  ...[...DATA].map((t): [string, SourceRule] => [t, dataLayerShapes]),
]);

const RULES = new Map<string, Rule>([
  ...[...SAME, 'Split'].map((t): [string, Rule] => [t, sameShape]),
  ['Convolution', convolutionShapes],
  ['ConvolutionDepthwise', convolutionShapes],
  ['DepthwiseConvolution', convolutionShapes],
  ['Deconvolution', convolutionShapes],
  ['Pooling', poolingShapes],
  ['InnerProduct', innerProductShapes],
  ['Eltwise', (_l, x) => [x]],
  ['Axpy', axpyShapes],
  ['Concat', concatShapes],
  ['Slice', sliceShapes],
  ['Flatten', flattenShapes],
  ['Reshape', reshapeShapes],
  ['Permute', permuteShapes],
  ['Crop', cropShapes],
  ['Tile', tileShapes],
  ['ArgMax', (_l, x) => [[x[0], 1, ...x.slice(2)]]],
  ['PriorBox', priorBoxShapes],
  ['Interp', resizeShapes('interp_param')],
  ['Upsample', resizeShapes('upsample_param')],
  ['ROIPooling', roiPoolingShapes],
]);

function normAxis(a: number, n: number): number {
  return a < 0 ? a + n : a;
}
