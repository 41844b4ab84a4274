/**
 * Carry out the folds: new blobs in float64, written back in each blob's dtype, each chain proven on a random
 * input before it is accepted, then both files rewritten through the lossless writers.
 */
import type { Net, NetLayer } from '../net';
import {
  writeCaffemodel,
  type BlobInfo,
  type CaffeModel,
  type LayerEdit,
  type ModelLayer,
  type NewBlob,
} from '../caffemodel';
import { PrototxtEditor, fields, message, nums, parsePrototxt, quote } from '../prototxt';
import {
  bnAffine,
  bnStats,
  foldBias,
  rowScaler,
  scaleAffine,
  scaleWeights,
  type Affine,
  type WeightLayout,
} from './math';
import { blobCopy, blobFloats, blobRows, fromDType, scaledRows, scaleInPlace, toDType } from './blobs';
import {
  bnParams,
  chainRefusal,
  placeChains,
  producerInfo,
  producerOutChannels,
  producerParamName,
  scaleParams,
} from './analyse';
import { checkWiring, topRuleViolation, valueModel, wiringOf, type Placement } from './wiring';
import { buildNet } from '../net';
import { caffeError, isCaffeFoldError } from '../errors';
import { FIELD } from '../schema/fields';
import {
  batchNormForward,
  compare,
  convForward,
  deconvForward,
  innerProductForward,
  randomNormal,
  scaleForward,
  type ConvGeometry,
  type Tensor3,
  type Weights,
} from './reference';
import type {
  Analysis,
  Chain,
  ChainProof,
  ChainStats,
  FoldOptions,
  FoldPhase,
  FoldReport,
  Refusal,
  StructureProof,
} from './types';

/** Relative error above which a fold is refused: the 1e-5, widened for fp16 storage (its own round-off is ~5e-4). */
export function toleranceFor(dtype: BlobInfo['dtype'], requested = 1e-5): number {
  return dtype === 'float16' ? Math.max(requested, 4e-3) : requested;
}

export type Progress = (phase: FoldPhase, done: number, total: number) => void;

export interface Planned {
  chain: Chain;
  /** Layer whose blobs change (producer, or the surviving Scale). */
  target: NetLayer;
  /** The target's blobs after the fold: new ones, or the index of a stored one (folded in place by commit). */
  blobs: (number | NewBlob)[];
  /** The dtype of the folded weights (it sets the proof's tolerance). */
  dtype: BlobInfo['dtype'];
  /** Write the folded weights over the stored ones (in-place folds only); called once the proof has passed. */
  commit?: () => void;
  addBias: boolean;
  /** Run the original chain and the folded layer on one random input and compare. */
  prove: () => ChainProof;
  stats: ChainStats;
}

export interface FoldInput {
  net: Net;
  model: CaffeModel;
  weights: Map<string, ModelLayer>;
  analysis: Analysis;
}

export interface FoldOutput {
  text: string;
  chunks: Uint8Array[];
  report: FoldReport;
}

const isSkipped = (c: Chain, skip: Set<string>) => skip.has(c.id) || c.layers.some((l) => skip.has(l));

export function foldNet(input: FoldInput, opts: FoldOptions = {}, onPhase: Progress = () => {}): FoldOutput {
  const { net, model, weights, analysis } = input;
  const skip = new Set(opts.skip ?? []);
  const zeroFactor = opts.zeroFactor ?? 'caffe';
  const refusals: Refusal[] = [...analysis.refusals];
  const todo = analysis.chains.filter((c) => {
    if (!isSkipped(c, skip)) return true;
    refusals.push(chainRefusal(c, 'skipped', `left as it is on request (chain ${c.label} at "${c.id}")`));
    return false;
  });

  const planned: Planned[] = [];
  todo.forEach((chain, i) => {
    onPhase('fold', i, todo.length);
    planned.push(planChain(net, weights, chain, zeroFactor, opts.seed ?? 1, opts.inPlace));
  });
  onPhase('fold', todo.length, todo.length);

  const proven: (Planned & { proof: ChainProof })[] = [];
  planned.forEach((p, i) => {
    onPhase('verify', i, planned.length);
    const tol = toleranceFor(p.dtype, opts.tolerance ?? 1e-5);
    const proof = p.prove();
    if (!(proof.maxRelError <= tol)) {
      refusals.push(
        chainRefusal(
          p.chain,
          'proof-failed',
          `the folded layer differs from the original chain by ${proof.maxRelError.toExponential(2)} (relative), above ${tol}`,
        ),
      );
    } else proven.push({ ...p, proof });
  });
  onPhase('verify', planned.length, planned.length);

  onPhase('write', 0, 1);
  // The chains left may wire differently from the set the analysis placed (some were skipped or failed their
  // proof): place them again, together.
  const placements = placeChains(
    net,
    proven.map((p) => p.chain),
    refusals,
  );
  const placedIds = new Set(placements.map((p) => p.chain.id));
  const accepted = proven
    .filter((p) => placedIds.has(p.chain.id))
    .map((p, i) => ({ ...p, chain: placements[i].chain }));
  const { text, edits, removedLayers } = rewriteFiles(net, weights, accepted);
  const structure = proveStructure(net, text, placements);
  for (const p of accepted) p.commit?.();
  const chunks = writeCaffemodel(model, edits);
  onPhase('write', 1, 1);

  const before = net.layers.length + net.excluded.length;
  return {
    text,
    chunks,
    report: {
      chains: accepted.map((p) => ({ ...p.chain, proof: p.proof, stats: p.stats })),
      refusals,
      warnings: analysis.warnings,
      layers: { before, after: before - removedLayers.length },
      removedLayers,
      structure,
    },
  };
}

/** The folded prototxt text and the caffemodel edits for the accepted chains. */
function rewriteFiles(
  net: Net,
  weights: Map<string, ModelLayer>,
  accepted: Planned[],
): { text: string; edits: Map<number, LayerEdit | null>; removedLayers: string[] } {
  const editor = new PrototxtEditor(net.doc);
  const edits = new Map<number, LayerEdit | null>();
  const removedLayers: string[] = [];
  for (const p of accepted) {
    const { chain, target } = p;
    const edit: LayerEdit = { blobs: p.blobs };
    if (chain.pattern === 'bn-scale') {
      // The surviving Scale reads what the BatchNorm read, and now has a bias.
      const bn = net.byName.get(chain.bn!)!;
      const bottom = fields(target.msg, 'bottom')[0];
      if (bottom && bottom.value.kind === 'scalar' && target.bottoms[0] !== bn.bottoms[0]) {
        editor.setRaw(bottom.value, quote(bn.bottoms[0]));
        // The caffemodel's copy of the layer names its bottom too; Caffe ignores it, viewers show it.
        if (weights.get(target.name)!.bottoms.length > 0) edit.rename = { bottoms: [bn.bottoms[0]] };
      }
      if (p.addBias) {
        editor.setIn(target.msg, 'scale_param', 'bias_term', 'true');
        edit.setVarint = [
          { paramField: FIELD.LayerParameter.scale_param, subField: FIELD.ScaleParameter.bias_term, value: 1 },
        ];
      }
    } else {
      const top = fields(target.msg, 'top')[0];
      if (top && top.value.kind === 'scalar' && target.tops[0] !== chain.outputTop) {
        editor.setRaw(top.value, quote(chain.outputTop));
        edit.rename = { tops: [chain.outputTop] };
      }
      if (p.addBias) {
        editor.setIn(target.msg, producerParamName(target.type), 'bias_term', 'true');
        edit.setVarint = [
          target.type === 'InnerProduct'
            ? {
                paramField: FIELD.LayerParameter.inner_product_param,
                subField: FIELD.InnerProductParameter.bias_term,
                value: 1,
              }
            : {
                paramField: FIELD.LayerParameter.convolution_param,
                subField: FIELD.ConvolutionParameter.bias_term,
                value: 1,
              },
        ];
      }
    }
    const moveTo = chain.moveTo ? net.byName.get(chain.moveTo)! : undefined;
    if (moveTo) {
      // The surviving layer, edited, takes the place of the layer it moves to; its old place is removed.
      editor.replace(moveTo.field, editor.render(target.field));
      editor.remove(target.field);
    }
    for (const name of chain.removed) {
      const l = net.byName.get(name)!;
      if (l !== moveTo) editor.remove(l.field);
      removedLayers.push(name);
      const w = weights.get(name);
      if (w) edits.set(w.index, null);
    }
    edits.set(weights.get(target.name)!.index, edit);
  }
  return { text: editor.toString(), edits, removedLayers };
}

/**
 * The structural proof of the written text: parse it back, build the net as Caffe would, and check that it wires
 * the same values as the original (wiring.ts). Any difference refuses the whole fold: nothing is written.
 */
export function proveStructure(net: Net, text: string, placements: Placement[]): StructureProof {
  const fail = (layer: string, blob: string, problem: string): never => {
    throw caffeError('fold-structure', { problem, blob }, { kind: 'layer', file: net.doc.file, layer });
  };
  let folded: Net;
  try {
    folded = buildNet(parsePrototxt(text, net.doc.file));
  } catch (e) {
    const said = isCaffeFoldError(e) ? e.what : (e as Error).message;
    return fail('(whole net)', '', `the folded text does not read back as a network (${said.replace(/\.$/, '')})`);
  }
  const model = valueModel(net);
  const wiring = wiringOf(net, folded, placements);
  if (!Array.isArray(wiring)) return fail(wiring.layer, wiring.blob, wiring.message);
  const problem = checkWiring(
    model,
    placements,
    wiring,
    folded.inputs.map((i) => i.name),
  );
  if (problem) return fail(problem.layer, problem.blob, problem.message);
  // A net Caffe accepted must stay one Caffe accepts.
  const inputs = net.inputs.map((i) => i.name);
  const broken = !topRuleViolation(net.layers, inputs) && topRuleViolation(wiring, inputs);
  if (broken) return fail(broken.layer, broken.blob, broken.message);
  const blobs = folded.layers.reduce((n, l) => n + l.bottoms.length + l.tops.length, 0);
  return { passed: true, layers: folded.layers.length, reads: blobs, outputs: [...model.outputs.keys()] };
}

/** The per-channel map y = alpha·x + shift of the chain's BatchNorm/Scale part, and facts about it. */
export function chainAffine(
  net: Net,
  weights: Map<string, ModelLayer>,
  chain: Chain,
  zeroFactor: 'caffe' | 'one',
): { affine: Affine; stats: ChainStats } {
  const bnLayer = chain.bn ? net.byName.get(chain.bn)! : undefined;
  const scaleLayer = chain.scale ? net.byName.get(chain.scale)! : undefined;
  const scaleBlobs = scaleLayer ? weights.get(scaleLayer.name)!.blobs : undefined;
  const gamma = scaleBlobs ? blobFloats(scaleBlobs[0]) : undefined;
  const beta =
    scaleBlobs && scaleLayer && scaleParams(scaleLayer).biasTerm && scaleBlobs[1]
      ? blobFloats(scaleBlobs[1])
      : undefined;
  let affine: Affine;
  let tinyVariance = 0;
  let zero = false;
  let eps: number | undefined;
  if (bnLayer) {
    const b = weights.get(bnLayer.name)!.blobs;
    eps = bnParams(bnLayer).eps;
    const factor = blobFloats(b[2])[0];
    zero = factor === 0;
    const stats = bnStats(blobFloats(b[0]), blobFloats(b[1]), factor, zeroFactor);
    for (const v of stats.variance) if (v < 1e-6) tinyVariance++;
    affine = bnAffine(stats, eps, gamma, beta);
  } else {
    affine = scaleAffine(gamma!, beta);
  }
  let alphaMin = Infinity;
  let alphaMax = -Infinity;
  for (const a of affine.alpha) {
    if (a < alphaMin) alphaMin = a;
    if (a > alphaMax) alphaMax = a;
  }
  return {
    affine,
    stats: { chain: chain.id, channels: affine.alpha.length, alphaMin, alphaMax, tinyVariance, zeroFactor: zero, eps },
  };
}

/** What both kinds of plan need: the chain's affine, its stats, its layers and the seed of its proof's input. */
interface ChainPlanning {
  net: Net;
  weights: Map<string, ModelLayer>;
  chain: Chain;
  zeroFactor: 'caffe' | 'one';
  affine: ReturnType<typeof chainAffine>['affine'];
  stats: ReturnType<typeof chainAffine>['stats'];
  bnLayer?: NetLayer;
  scaleLayer?: NetLayer;
  seed: number;
}

export function planChain(
  net: Net,
  weights: Map<string, ModelLayer>,
  chain: Chain,
  zeroFactor: 'caffe' | 'one',
  seed: number,
  inPlace = false,
): Planned {
  const { affine, stats } = chainAffine(net, weights, chain, zeroFactor);
  const ctx: ChainPlanning = {
    net,
    weights,
    chain,
    zeroFactor,
    affine,
    stats,
    bnLayer: chain.bn ? net.byName.get(chain.bn) : undefined,
    scaleLayer: chain.scale ? net.byName.get(chain.scale) : undefined,
    seed: seed + hash(chain.id),
  };
  return chain.pattern === 'bn-scale' ? planScaleMerge(ctx) : planProducerFold(ctx, inPlace);
}

/** BatchNorm + Scale merged into the Scale: its two blobs replaced by the chain's affine. */
function planScaleMerge({
  weights,
  chain,
  zeroFactor,
  affine,
  stats,
  bnLayer,
  scaleLayer,
  seed,
}: ChainPlanning): Planned {
  const s = scaleLayer!;
  const sw = weights.get(s.name)!.blobs;
  const C = affine.alpha.length;
  const gammaNew = toDType(affine.alpha, sw[0].dtype);
  const betaNew = toDType(affine.shift, sw[1]?.dtype ?? sw[0].dtype);
  const newBlobs: NewBlob[] = [
    { data: gammaNew, dtype: sw[0].dtype, shape: sw[0].shape, like: sw[0] },
    sw[1]
      ? { data: betaNew, dtype: sw[1].dtype, shape: sw[1].shape, like: sw[1] }
      : { data: betaNew, dtype: sw[0].dtype, shape: [C] },
  ];
  // Proof: BatchNorm then Scale, literally, against the new Scale.
  const x: Tensor3 = { c: C, h: 2, w: 2, data: randomNormal(C * 4, seed) };
  const ref = () => runBnScale(x, weights, bnLayer, scaleLayer, zeroFactor);
  const got = () => scaleForward(x, fromDType(gammaNew, sw[0].dtype), fromDType(betaNew, newBlobs[1].dtype));
  return {
    chain,
    target: s,
    blobs: newBlobs,
    dtype: sw[0].dtype,
    addBias: !scaleParams(s).biasTerm,
    prove: () => ({ chain: chain.id, ...compare(ref().data, got().data) }),
    stats,
  };
}

/** BatchNorm (and Scale) folded into the producer's weights and bias: in place when the stored rows allow it. */
function planProducerFold(ctx: ChainPlanning, inPlace: boolean): Planned {
  const { net, weights, chain, zeroFactor, affine, stats, bnLayer, scaleLayer, seed } = ctx;
  const p = net.byName.get(chain.producer!)!;
  const pw = weights.get(p.name)!;
  const info = producerInfo(p);
  const W = pw.blobs[0];
  const B = info.hasBias ? pw.blobs[1] : undefined;
  const C = producerOutChannels(p, pw)!;
  const layout = weightLayout(p, W, C);
  const run = producerRunner(p, W, C, info);
  const bNew = toDType(foldBias(B ? blobFloats(B) : undefined, affine), B ? B.dtype : W.dtype);
  const bias: NewBlob = B
    ? { data: bNew, dtype: B.dtype, shape: B.shape, like: B }
    : { data: bNew, dtype: W.dtype, shape: [C] };
  // The proof: the original producer → BatchNorm → Scale against the folded producer, on one random input; the
  // original weights are read row by row, never copied whole.
  const proveWith = (folded: Weights): ChainProof => {
    const x = run.input(seed);
    const ref = runBnScale(
      run.forward(x, blobRows(W, run.rowLength), B ? blobFloats(B) : undefined),
      weights,
      bnLayer,
      scaleLayer,
      zeroFactor,
    );
    const got = run.forward(x, folded, fromDType(bNew, bias.dtype));
    return { chain: chain.id, ...compare(ref.data, got.data) };
  };

  if (inPlace && W.dtype !== 'float16' && W.raw && W.raw.byteLength === W.count * (W.dtype === 'float64' ? 8 : 4)) {
    // No copy at all: the proof reads the folded rows as they will be written, and commit writes them over the
    // stored ones — with the same row function, so what was proven is what is written.
    const scaleRow = rowScaler(layout, run.rowLength, affine.alpha);
    return {
      chain,
      target: p,
      blobs: [0, bias],
      dtype: W.dtype,
      commit: () => scaleInPlace(W, run.rowLength, scaleRow),
      addBias: !B,
      prove: () => proveWith(scaledRows(W, run.rowLength, scaleRow)),
      stats,
    };
  }

  // The new weights are the one allocation: the stored values copied in bulk, then scaled in place (each element
  // read as float64, multiplied, rounded once to the dtype).
  let wNew: Float32Array | Float64Array | Uint16Array;
  if (W.dtype === 'float16') wNew = toDType(scaleWeights(blobFloats(W), layout, affine.alpha), 'float16');
  else {
    const copy = blobCopy(W);
    wNew = scaleWeights(copy, layout, affine.alpha, copy);
  }
  return {
    chain,
    target: p,
    blobs: [{ data: wNew, dtype: W.dtype, shape: W.shape, like: W }, bias],
    dtype: W.dtype,
    addBias: !B,
    prove: () => proveWith(fromDType(wNew, W.dtype)),
    stats,
  };
}

function runBnScale(
  x: Tensor3,
  weights: Map<string, ModelLayer>,
  bn: NetLayer | undefined,
  scale: NetLayer | undefined,
  zeroFactor: 'caffe' | 'one',
): Tensor3 {
  let y = x;
  if (bn) {
    const b = weights.get(bn.name)!.blobs;
    y = batchNormForward(y, blobFloats(b[0]), blobFloats(b[1]), blobFloats(b[2])[0], bnParams(bn).eps, zeroFactor);
  }
  if (scale) {
    const s = weights.get(scale.name)!.blobs;
    y = scaleForward(y, blobFloats(s[0]), scaleParams(scale).biasTerm && s[1] ? blobFloats(s[1]) : undefined);
  }
  return y;
}

export function weightLayout(p: NetLayer, W: BlobInfo, C: number): WeightLayout {
  const info = producerInfo(p);
  if (p.type === 'InnerProduct') return { kind: info.transpose ? 'out-minor' : 'out-major', outChannels: C };
  if (p.type === 'Deconvolution') return { kind: 'deconv', outChannels: C, inChannels: W.shape[0], group: info.group };
  return { kind: 'out-major', outChannels: C };
}

interface Runner {
  /** How many weights make a row of the forward's weight rows (see RowWeights). */
  rowLength: number;
  input(seed: number): Tensor3;
  forward(x: Tensor3, w: Weights, b: ArrayLike<number> | undefined): Tensor3;
}

/**
 * The producer on the smallest input that meets every weight exactly once: one output position of a convolution
 * (its kernel, dilation and groups; padding and stride only choose which inputs a weight meets), a 1×1 input of a
 * deconvolution, one row of an inner product.
 */
function producerRunner(p: NetLayer, W: BlobInfo, C: number, info: ReturnType<typeof producerInfo>): Runner {
  if (p.type === 'InnerProduct') {
    const K = W.count / C;
    return {
      rowLength: info.transpose ? C : K,
      input: (seed) => ({ c: K, h: 1, w: 1, data: randomNormal(K, seed) }),
      forward: (x, w, b) => innerProductForward(x.data, w, b, C, info.transpose),
    };
  }
  const shape = W.shape;
  const spatial = shape.slice(2);
  const cp = message(p.msg, 'convolution_param');
  let kh = 1;
  let kw = 1;
  let dh = 1;
  let dw = 1;
  if (spatial.length === 2) {
    [kh, kw] = spatial;
    const d = cp ? nums(cp, 'dilation') : [];
    dh = d[0] ?? 1;
    dw = d[1] ?? d[0] ?? 1;
  } else {
    // N-d kernels: flatten the kernel into one row; the fold is per output channel either way.
    kw = spatial.reduce((a, b) => a * b, 1);
  }
  const group = info.group;
  const deconv = p.type === 'Deconvolution';
  const inChannels = deconv ? shape[0] : shape[1] * group;
  const g: ConvGeometry = { outChannels: C, group, kh, kw, sh: 1, sw: 1, ph: 0, pw: 0, dh, dw };
  const h = deconv ? 1 : dh * (kh - 1) + 1;
  const wd = deconv ? 1 : dw * (kw - 1) + 1;
  return {
    rowLength: deconv ? W.count / shape[0] : W.count / C,
    input: (seed) => ({ c: inChannels, h, w: wd, data: randomNormal(inChannels * h * wd, seed) }),
    forward: (x, w, b) => (deconv ? deconvForward(x, w, b, g) : convForward(x, w, b, g)),
  };
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
