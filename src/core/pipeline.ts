/**
 * The core's front door, used by the worker and the CLI: load a prototxt (+ caffemodel), analyse, fold.
 * Pure: bytes in, bytes out.
 */
import { CaffeFoldError } from './errors';
import { MAX_FILE_BYTES } from './display/files';
import { buildNet, type Net } from './net';
import { looksLikeCaffemodel, readCaffemodel, type CaffeModel, type ModelLayer } from './caffemodel';
import { parsePrototxt, type PtDocument } from './prototxt';
import { inferShapes } from './shapes';
import { checkPairing, needsWeights } from './pairing';
import { analyse, PRODUCER_TYPES } from './fold/analyse';
import { foldNet, planChain, type Progress } from './fold/apply';
import type { Analysis, ChainProof, ChainStats, FoldOptions, FoldPhase, FoldReport } from './fold/types';

export interface InputFile {
  name: string;
  bytes: Uint8Array;
}

export type FileKind = 'prototxt' | 'caffemodel';

export interface Loaded {
  prototxtName: string;
  modelName?: string;
  doc: PtDocument;
  net: Net;
  model?: CaffeModel;
  /** Layer name → its weights in the caffemodel. */
  weights: Map<string, ModelLayer>;
  pairing: {
    /** Layers of the prototxt that need weights and have none in the caffemodel. */
    missing: string[];
    /** Layers of the caffemodel with weights that the prototxt does not have (in the TEST phase). */
    unused: string[];
  };
  analysis: Analysis;
  /** Blob id (`name@version`) → inferred shape, where known. */
  shapes: Map<string, number[]>;
}

export interface FoldResult {
  prototxt: { name: string; text: string };
  /** Chunks to concatenate (a Blob in the browser, a stream in Node). */
  caffemodel: { name: string; chunks: Uint8Array[] };
  report: FoldReport;
}

export type { Analysis, ChainProof, ChainStats, FoldOptions, FoldPhase, FoldReport };

export { MAX_FILE_BYTES };

const SIGNATURES: { bytes: number[]; what: string; hint: string }[] = [
  { bytes: [0x89, 0x50, 0x4e, 0x47], what: 'a PNG image', hint: 'drop the network definition (.prototxt) and its weights (.caffemodel)' },
  { bytes: [0xff, 0xd8, 0xff], what: 'a JPEG image', hint: 'drop the network definition (.prototxt) and its weights (.caffemodel)' },
  { bytes: [0x47, 0x49, 0x46, 0x38], what: 'a GIF image', hint: 'drop the network definition (.prototxt) and its weights (.caffemodel)' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], what: 'a zip archive', hint: 'unpack it first and drop the .prototxt and .caffemodel inside' },
  { bytes: [0x1f, 0x8b], what: 'a gzip archive', hint: 'unpack it first and drop the .prototxt and .caffemodel inside' },
  { bytes: [0x89, 0x48, 0x44, 0x46], what: 'an HDF5 file (.caffemodel.h5)', hint: 'save the weights as a binary .caffemodel (Caffe\'s net.save) and drop that' },
  { bytes: [0x25, 0x50, 0x44, 0x46], what: 'a PDF document', hint: 'drop the network definition (.prototxt) and its weights (.caffemodel)' },
];

/** Is this a text prototxt or a binary caffemodel? Decided by content, not by name. */
export function detectKind(bytes: Uint8Array, name?: string): FileKind {
  const where = { kind: 'file' as const, file: name };
  if (bytes.length === 0) throw new CaffeFoldError('file-empty', 'the file is empty', where, 'the download or copy may have failed: get the file again');
  for (const s of SIGNATURES) {
    if (s.bytes.every((b, i) => bytes[i] === b)) throw new CaffeFoldError('file-unsupported', `this is ${s.what}, not a Caffe model file`, where, s.hint);
  }
  if (looksLikeText(bytes)) return 'prototxt';
  if (looksLikeOnnx(bytes)) {
    throw new CaffeFoldError('file-unsupported', 'this looks like an ONNX model, not a Caffe model', where, 'caffe-fold reads Caffe .prototxt + .caffemodel pairs; fold ONNX models with onnxoptimizer or onnxsim');
  }
  if (looksLikeCaffemodel(bytes)) return 'caffemodel';
  throw new CaffeFoldError('file-unsupported', 'this is neither a Caffe network definition (text) nor Caffe weights (binary NetParameter)', where, 'drop the network definition (.prototxt) and its weights (.caffemodel)');
}

function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 4096);
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (; i < n; i++) {
    const b = bytes[i];
    if (b === 9 || b === 10 || b === 13) continue;
    if (b < 32 || b === 127) return false;
  }
  return true;
}

/** ONNX ModelProto starts with ir_version (field 1, varint): tag 0x08 — a wire type NetParameter's field 1 (name, a string) never has. */
function looksLikeOnnx(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x08) return false;
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, Math.min(bytes.length, 256)));
  return /onnx|pytorch|tf2onnx|keras|skl2onnx/i.test(head);
}

export function parsePrototxtFile(file: InputFile): PtDocument {
  if (file.bytes.length > 256 * 1024 * 1024) {
    throw new CaffeFoldError('prototxt-too-large', `the network definition is ${(file.bytes.length / 2 ** 20).toFixed(0)} MB; real ones are well under 10 MB`, { kind: 'file', file: file.name }, 'check that this is the .prototxt and not the weights');
  }
  if (!looksLikeText(file.bytes)) {
    const swapped = looksLikeCaffemodel(file.bytes);
    throw new CaffeFoldError(
      swapped ? 'file-swapped' : 'prototxt-not-text',
      swapped ? 'this is a binary .caffemodel (the weights), given where the network definition (.prototxt) was expected' : 'this is a binary file, not a text network definition (.prototxt)',
      { kind: 'file', file: file.name },
      swapped ? 'give the .prototxt as the model and the .caffemodel as the weights' : 'give the deploy .prototxt of the network',
    );
  }
  const text = new TextDecoder('utf-8').decode(file.bytes);
  return parsePrototxt(text, file.name);
}

/** Types that carry learned blobs in a caffemodel. */
const WEIGHTED = new Set([...PRODUCER_TYPES, 'BatchNorm', 'Scale', 'Bias', 'PReLU', 'Embed', 'Normalize', 'LSTM', 'RNN']);

export function pairWeights(net: Net, model: CaffeModel | undefined, shapes: Map<string, number[]> = new Map()): { weights: Map<string, ModelLayer>; missing: string[]; unused: string[] } {
  const weights = new Map<string, ModelLayer>();
  if (!model) return { weights, missing: [], unused: [] };
  // Caffe copies by name, later duplicates overwriting earlier ones.
  for (const l of model.layers) if (l.blobs.length > 0) weights.set(l.name, l);
  // A layer needs weights when it makes blobs (a Scale or Bias whose factor is its second input makes none).
  const missing = net.layers.filter((l) => WEIGHTED.has(l.type) && !weights.has(l.name) && needsWeights(l, shapes, WEIGHTED)).map((l) => l.name);
  const names = new Set(net.layers.map((l) => l.name));
  const excluded = new Set(net.excluded.map((l) => l.name));
  const unused = [...weights.keys()].filter((n) => !names.has(n) && !excluded.has(n));
  return { weights, missing, unused };
}

const quoted = (names: string[], max: number) => `${names.slice(0, max).map((n) => `"${n}"`).join(', ')}${names.length > max ? ', …' : ''}`;

/** A prototxt with no layers (empty, only comments, or every layer left out in this phase) cannot be folded or drawn. */
function refuseEmptyNet(net: Net, file: string): void {
  if (net.layers.length > 0) return;
  const where = { kind: 'file' as const, file };
  if (net.excluded.length > 0) {
    const ex = net.excluded[0];
    throw new CaffeFoldError(
      'net-no-layers',
      `all ${net.excluded.length} layers are left out in the TEST phase (the first, "${ex.name}": ${ex.reason}): there is nothing to fold or draw`,
      where,
      'give the deploy .prototxt of the network (the one with an Input layer or input_shape)',
    );
  }
  if (net.doc.text.trim() === '') {
    throw new CaffeFoldError('net-no-layers', 'the network definition is empty: there is nothing to fold or draw', where, 'give the .prototxt that describes the network: the text file with its layer { name: … type: … } blocks');
  }
  throw new CaffeFoldError(
    'net-no-layers',
    net.inputs.length
      ? `the network definition declares ${net.inputs.length === 1 ? 'an input' : 'inputs'} (${quoted(net.inputs.map((i) => i.name), 3)}) but no layers: there is nothing to fold or draw`
      : 'the network definition has no layers (no "layer { … }" blocks): there is nothing to fold or draw',
    where,
    'give the .prototxt that describes the network: the text file with its layer { name: … type: … } blocks',
  );
}

export interface LoadOptions {
  zeroFactor?: 'caffe' | 'one';
  /** Input shape for nets whose input has none (train/val nets with data layers). */
  inputShape?: number[];
  /**
   * Load even when layers of the prototxt that need weights have none in the caffemodel (they would keep Caffe's
   * initial values); by default that is an error.
   */
  allowMissingWeights?: boolean;
  /** Called as each phase of the load ends (for timing). */
  onPhaseEnd?: (phase: 'parse' | 'analyse' | 'shapes') => void;
}

export function loadFiles(prototxt: InputFile, caffemodel?: InputFile, opts: LoadOptions = {}): Loaded {
  for (const f of [prototxt, caffemodel]) {
    if (f && f.bytes.length > MAX_FILE_BYTES) {
      throw new CaffeFoldError('file-too-large', `the file is ${(f.bytes.length / 2 ** 30).toFixed(2)} GB; caffe-fold reads files up to 2 GB`, { kind: 'file', file: f.name }, 'Caffe itself cannot read protobuf messages over 2 GB either: check the file');
    }
  }
  const doc = parsePrototxtFile(prototxt);
  const net = buildNet(doc);
  refuseEmptyNet(net, prototxt.name);
  const model = caffemodel ? readCaffemodel(caffemodel.bytes, caffemodel.name) : undefined;
  opts.onPhaseEnd?.('parse');
  // Shapes first: the pairing check compares the caffemodel's blobs with the shapes the prototxt makes.
  const { shapes } = inferShapes(net, { inputShape: opts.inputShape });
  opts.onPhaseEnd?.('shapes');
  const { weights, missing, unused } = pairWeights(net, model, shapes);
  if (model) checkPair(net, model, caffemodel!.name, prototxt.name, weights, missing, shapes, opts);
  const analysis = analyse(net, { weights: model ? weights : undefined, zeroFactor: opts.zeroFactor });
  if (model && missing.length) analysis.warnings.push({ message: `${missing.length} layer(s) of the prototxt have no weights in the caffemodel: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '…' : ''}` });
  if (model && unused.length) analysis.warnings.push({ message: `${unused.length} weighted layer(s) of the caffemodel are not in the prototxt: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? '…' : ''}` });
  opts.onPhaseEnd?.('analyse');
  return { prototxtName: prototxt.name, modelName: caffemodel?.name, doc, net, model, weights, pairing: { missing, unused }, analysis, shapes };
}

/** Refuse a pair Caffe would refuse (Net::CopyTrainedLayersFrom), and layers left without weights unless allowed. */
function checkPair(
  net: Net,
  model: CaffeModel,
  modelFile: string,
  protoFile: string,
  weights: Map<string, ModelLayer>,
  missing: string[],
  shapes: Map<string, number[]>,
  opts: LoadOptions,
): void {
  const other = 'these weights belong to another network (or another version of it): give the .caffemodel that was trained with this .prototxt';
  if (weights.size > 0 && !net.layers.some((l) => weights.has(l.name))) {
    throw new CaffeFoldError(
      'pair-mismatch',
      `none of the ${weights.size} weighted layers of the caffemodel (${[...weights.keys()].slice(0, 3).map((n) => `"${n}"`).join(', ')}…) is in the prototxt`,
      { kind: 'file', file: modelFile },
      'these weights belong to another network: drop the .prototxt that was trained with them',
    );
  }
  const problems = checkPairing(net, model, shapes);
  if (problems.length) {
    const [p, ...rest] = problems;
    const more = rest.length ? `; ${rest.length} other layer${rest.length === 1 ? '' : 's'} do${rest.length === 1 ? 'es' : ''} not fit either (${quoted(rest.map((r) => r.layer), 3)})` : '';
    throw new CaffeFoldError(p.code, p.what + more, { kind: 'layer', file: modelFile, layer: p.layer }, other);
  }
  if (missing.length && !opts.allowMissingWeights) {
    const none = weights.size === 0 ? ' (the caffemodel holds no weights at all)' : '';
    throw new CaffeFoldError(
      'pair-missing-weights',
      `${missing.length} layer${missing.length === 1 ? '' : 's'} of the prototxt need${missing.length === 1 ? 's' : ''} weights and ${missing.length === 1 ? 'has' : 'have'} none in the caffemodel${none}: ${quoted(missing, 5)}; Caffe would leave ${missing.length === 1 ? 'it' : 'them'} at ${missing.length === 1 ? 'its' : 'their'} initial values`,
      { kind: 'layer', file: protoFile, layer: missing[0] },
      `give the .caffemodel that was trained with this .prototxt; if ${missing.length === 1 ? 'this layer is' : 'these layers are'} meant to keep ${missing.length === 1 ? 'its' : 'their'} initial values, load anyway (command line: --allow-missing-weights)`,
    );
  }
}

/** Facts for the side panel: the range of alpha, tiny variances, and the chain's proof (computed on demand). */
export function chainDetails(loaded: Loaded, chainId: string, zeroFactor: 'caffe' | 'one' = 'caffe'): { stats?: ChainStats; proof?: ChainProof } {
  const chain = loaded.analysis.chains.find((c) => c.id === chainId);
  if (!chain || !loaded.model) return {};
  // Planned as an in-place fold that is never committed: the proof reads the folded rows without copying the
  // weights, and nothing is written.
  const plan = planChain(loaded.net, loaded.weights, chain, zeroFactor, 1, true);
  return { stats: plan.stats, proof: plan.prove() };
}

export function foldLoaded(loaded: Loaded, opts: FoldOptions = {}, onPhase?: Progress): FoldResult {
  if (!loaded.model) {
    throw new CaffeFoldError('fold-no-weights', 'there are no weights to fold', { kind: 'file', file: loaded.prototxtName }, 'drop the .caffemodel that goes with this .prototxt');
  }
  const analysis = opts.zeroFactor && opts.zeroFactor !== 'caffe' ? analyse(loaded.net, { weights: loaded.weights, zeroFactor: opts.zeroFactor }) : loaded.analysis;
  const out = foldNet({ net: loaded.net, model: loaded.model, weights: loaded.weights, analysis }, opts, onPhase);
  const names = outputNames(loaded.prototxtName, loaded.modelName);
  return { prototxt: { name: names.prototxt, text: out.text }, caffemodel: { name: names.caffemodel, chunks: out.chunks }, report: out.report };
}

/** The classic merge script's default names: `<base>_inference.prototxt` / `<base>_inference.caffemodel`. */
export function outputNames(prototxtName: string, modelName?: string): { prototxt: string; caffemodel: string } {
  const base = (n: string) => n.replace(/^.*[\\/]/, '').replace(/\.(prototxt|pbtxt|txt|caffemodel)$/i, '');
  return { prototxt: `${base(prototxtName)}_inference.prototxt`, caffemodel: `${base(modelName ?? prototxtName)}_inference.caffemodel` };
}
