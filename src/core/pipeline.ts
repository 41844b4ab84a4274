/**
 * The core's front door, used by the worker and the CLI: load a prototxt (+ caffemodel), analyse, fold.
 * Pure: bytes in, bytes out.
 */
import { caffeError, checkFileSize, type FileFormat } from './errors';
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

/** First bytes of files that are not Caffe models (their messages are in core/errors/table.ts). */
const SIGNATURES: { bytes: number[]; format: FileFormat }[] = [
  { bytes: [0x89, 0x50, 0x4e, 0x47], format: 'png' },
  { bytes: [0xff, 0xd8, 0xff], format: 'jpeg' },
  { bytes: [0x47, 0x49, 0x46, 0x38], format: 'gif' },
  { bytes: [0x50, 0x4b, 0x03, 0x04], format: 'zip' },
  { bytes: [0x1f, 0x8b], format: 'gzip' },
  { bytes: [0x89, 0x48, 0x44, 0x46], format: 'hdf5' },
  { bytes: [0x25, 0x50, 0x44, 0x46], format: 'pdf' },
];

/** Is this a text prototxt or a binary caffemodel? Decided by content, not by name. */
export function detectKind(bytes: Uint8Array, name?: string): FileKind {
  const where = { kind: 'file' as const, file: name };
  if (bytes.length === 0) throw caffeError('file-empty', {}, where);
  for (const s of SIGNATURES) {
    if (s.bytes.every((b, i) => bytes[i] === b)) throw caffeError('file-unsupported', { format: s.format }, where);
  }
  if (looksLikeText(bytes)) return 'prototxt';
  if (looksLikeOnnx(bytes)) throw caffeError('file-unsupported', { format: 'onnx' }, where);
  if (looksLikeCaffemodel(bytes)) return 'caffemodel';
  throw caffeError('file-unsupported', { format: 'unknown' }, where);
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
    throw caffeError('prototxt-too-large', { bytes: file.bytes.length }, { kind: 'file', file: file.name });
  }
  if (!looksLikeText(file.bytes))
    throw caffeError(
      looksLikeCaffemodel(file.bytes) ? 'file-swapped' : 'prototxt-not-text',
      {},
      { kind: 'file', file: file.name },
    );
  const text = new TextDecoder('utf-8').decode(file.bytes);
  return parsePrototxt(text, file.name);
}

/** Types that carry learned blobs in a caffemodel. */
const WEIGHTED = new Set([
  ...PRODUCER_TYPES,
  'BatchNorm',
  'Scale',
  'Bias',
  'PReLU',
  'Embed',
  'Normalize',
  'LSTM',
  'RNN',
]);

export function pairWeights(
  net: Net,
  model: CaffeModel | undefined,
  shapes: Map<string, number[]> = new Map(),
): { weights: Map<string, ModelLayer>; missing: string[]; unused: string[] } {
  const weights = new Map<string, ModelLayer>();
  if (!model) return { weights, missing: [], unused: [] };
  // Caffe copies by name, later duplicates overwriting earlier ones.
  for (const l of model.layers) if (l.blobs.length > 0) weights.set(l.name, l);
  // A layer needs weights when it makes blobs (a Scale or Bias whose factor is its second input makes none).
  const missing = net.layers
    .filter((l) => WEIGHTED.has(l.type) && !weights.has(l.name) && needsWeights(l, shapes, WEIGHTED))
    .map((l) => l.name);
  const names = new Set(net.layers.map((l) => l.name));
  const excluded = new Set(net.excluded.map((l) => l.name));
  const unused = [...weights.keys()].filter((n) => !names.has(n) && !excluded.has(n));
  return { weights, missing, unused };
}

/** A prototxt with no layers (empty, only comments, or every layer left out in this phase) cannot be folded or drawn. */
function refuseEmptyNet(net: Net, file: string): void {
  if (net.layers.length > 0) return;
  const where = { kind: 'file' as const, file };
  const ex = net.excluded[0];
  if (ex)
    throw caffeError(
      'net-no-layers',
      { why: 'excluded', count: net.excluded.length, first: ex.name, reason: ex.reason },
      where,
    );
  if (net.doc.text.trim() === '') throw caffeError('net-no-layers', { why: 'empty' }, where);
  throw caffeError('net-no-layers', { why: 'no-layers', inputs: net.inputs.map((i) => i.name) }, where);
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
  for (const f of [prototxt, caffemodel]) if (f) checkFileSize(f.name, f.bytes.length);
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
  if (model && missing.length)
    analysis.warnings.push({
      message: `${missing.length} layer(s) of the prototxt have no weights in the caffemodel: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? '…' : ''}`,
    });
  if (model && unused.length)
    analysis.warnings.push({
      message: `${unused.length} weighted layer(s) of the caffemodel are not in the prototxt: ${unused.slice(0, 5).join(', ')}${unused.length > 5 ? '…' : ''}`,
    });
  opts.onPhaseEnd?.('analyse');
  return {
    prototxtName: prototxt.name,
    modelName: caffemodel?.name,
    doc,
    net,
    model,
    weights,
    pairing: { missing, unused },
    analysis,
    shapes,
  };
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
  if (weights.size > 0 && !net.layers.some((l) => weights.has(l.name))) {
    throw caffeError('pair-mismatch', { layers: [...weights.keys()] }, { kind: 'file', file: modelFile });
  }
  const problems = checkPairing(net, model, shapes);
  if (problems.length) {
    const [p, ...rest] = problems;
    throw caffeError(
      p.code,
      { problem: p.what, others: rest.map((r) => r.layer) },
      { kind: 'layer', file: modelFile, layer: p.layer },
    );
  }
  if (missing.length && !opts.allowMissingWeights) {
    throw caffeError(
      'pair-missing-weights',
      { missing, noneAtAll: weights.size === 0 },
      { kind: 'layer', file: protoFile, layer: missing[0] },
    );
  }
}

/** Facts for the side panel: the range of alpha, tiny variances, and the chain's proof (computed on demand). */
export function chainDetails(
  loaded: Loaded,
  chainId: string,
  zeroFactor: 'caffe' | 'one' = 'caffe',
): { stats?: ChainStats; proof?: ChainProof } {
  const chain = loaded.analysis.chains.find((c) => c.id === chainId);
  if (!chain || !loaded.model) return {};
  // Planned as an in-place fold that is never committed: the proof reads the folded rows without copying the
  // weights, and nothing is written.
  const plan = planChain(loaded.net, loaded.weights, chain, zeroFactor, 1, true);
  return { stats: plan.stats, proof: plan.prove() };
}

export function foldLoaded(loaded: Loaded, opts: FoldOptions = {}, onPhase?: Progress): FoldResult {
  if (!loaded.model) {
    throw caffeError('fold-no-weights', {}, { kind: 'file', file: loaded.prototxtName });
  }
  const analysis =
    opts.zeroFactor && opts.zeroFactor !== 'caffe'
      ? analyse(loaded.net, { weights: loaded.weights, zeroFactor: opts.zeroFactor })
      : loaded.analysis;
  const out = foldNet({ net: loaded.net, model: loaded.model, weights: loaded.weights, analysis }, opts, onPhase);
  const names = outputNames(loaded.prototxtName, loaded.modelName);
  return {
    prototxt: { name: names.prototxt, text: out.text },
    caffemodel: { name: names.caffemodel, chunks: out.chunks },
    report: out.report,
  };
}

/** The classic merge script's default names: `<base>_inference.prototxt` / `<base>_inference.caffemodel`. */
export function outputNames(prototxtName: string, modelName?: string): { prototxt: string; caffemodel: string } {
  const base = (n: string) => n.replace(/^.*[\\/]/, '').replace(/\.(prototxt|pbtxt|txt|caffemodel)$/i, '');
  return {
    prototxt: `${base(prototxtName)}_inference.prototxt`,
    caffemodel: `${base(modelName ?? prototxtName)}_inference.caffemodel`,
  };
}
