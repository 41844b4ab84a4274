/**
 * Plain data that crosses the worker boundary. The main thread imports these types only (`import type`).
 */
import type { Category } from '../core/display';
import type {
  Analysis,
  Chain,
  ChainProof,
  ChainStats,
  FoldPhase,
  FoldReport,
  Refusal,
  Warning,
} from '../core/fold/types';
import type { ErrorWhere, PlainError } from '../core/errors';

/** PlainError: an error as it crosses comlink, CaffeFoldError's fields or a bug's message (core/errors). */
export type {
  Analysis,
  Chain,
  ChainProof,
  ChainStats,
  FoldPhase,
  FoldReport,
  Refusal,
  Warning,
  ErrorWhere,
  PlainError,
};

export type Result<T> = { ok: true; value: T } | { ok: false; error: PlainError };

/** A file handed to the worker: the File itself (a handle; the worker reads the bytes, off the main thread). */
export interface FileIn {
  name: string;
  file: Blob;
}

/**
 * Milliseconds per phase, measured in the worker (also recorded as User Timing measures named `caffe-fold <phase>`,
 * visible in the browser's performance panel): read the files, parse them, analyse, infer shapes, and for a fold
 * fold, verify, write (the chunks) and output (the downloadable file made from them: written to OPFS, or a Blob).
 */
export type Timings = Partial<
  Record<'read' | 'parse' | 'analyse' | 'shapes' | 'layout' | 'fold' | 'verify' | 'write' | 'output', number>
>;

export type GraphSide = 'before' | 'after';

/** One layer drawn as a row inside its producer's node (in-place layers). */
export interface GraphRow {
  layer: string;
  type: string;
  category: Category;
  /** Chain this layer belongs to. */
  chain?: string;
  /** The fold deletes this layer. */
  removed?: boolean;
  /** Why a BatchNorm/Scale here is refused. */
  refused?: string;
}

export interface GraphNode {
  id: string;
  kind: 'layer' | 'input';
  /** The node's own layer (or the net input's blob name). */
  layer: string;
  type: string;
  category: Category;
  /** In-place layers that follow the head layer, in order. */
  rows: GraphRow[];
  chain?: string;
  removed?: boolean;
  refused?: string;
  /** Badge of a chain whose target is this node's layer. */
  badge?: string;
  /** Output shape summary, e.g. "1×64×112×112". */
  outShape?: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  blob: string;
  shape?: number[];
  label: string;
  /** Route from the layout: start, bends, end. */
  points: Point[];
  labelPos?: Point;
}

export interface ChainGroup {
  id: string;
  label: string;
  nodeIds: string[];
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GraphLayout {
  side: GraphSide;
  nodes: GraphNode[];
  edges: GraphEdge[];
  /** Frames around chains that span more than one node. */
  groups: ChainGroup[];
  /** Layer name → id of the node that draws it. */
  layerNode: Record<string, string>;
  width: number;
  height: number;
  layoutMs: number;
}

export interface FileInfo {
  name: string;
  size: number;
  kind: 'prototxt' | 'caffemodel';
}

/** The user's choices for a load. */
export interface LoadChoices {
  /** Load even when layers that need weights have none in the caffemodel ("Load anyway"). */
  allowMissingWeights?: boolean;
}

export interface LoadSummary {
  prototxt: FileInfo;
  caffemodel?: FileInfo;
  netName?: string;
  layerCount: number;
  analysis: Analysis;
  /** Layers (needing weights) with none in the caffemodel; caffemodel layers the prototxt does not use. */
  missing: string[];
  unused: string[];
  timings: Timings;
  outputNames: { prototxt: string; caffemodel?: string };
}

export interface ParamEntry {
  key: string;
  value: string;
  /** Not written in the file: the schema's default. */
  isDefault: boolean;
}

export interface ParamGroup {
  /** e.g. "convolution_param", or "layer" for the layer's own fields. */
  name: string;
  entries: ParamEntry[];
}

export interface TensorStats {
  count: number;
  min: number;
  max: number;
  mean: number;
  std: number;
  nonFinite: number;
}

export interface WeightInfo {
  index: number;
  /** What the blob is, e.g. "weights", "bias", "mean·factor". */
  role: string;
  shape: number[];
  stats?: TensorStats;
  /** The storage, e.g. "float", "double", "fp16". */
  storage?: string;
}

export interface BlobInfo {
  name: string;
  id: string;
  shape?: number[];
}

export interface LayerDetails {
  name: string;
  type: string;
  index: number;
  inPlace: boolean;
  bottoms: BlobInfo[];
  tops: BlobInfo[];
  params: ParamGroup[];
  weights: WeightInfo[];
  /** The layer needs weights and the caffemodel has none for it. */
  weightsMissing: boolean;
  chain?: Chain;
  refusal?: Refusal;
  warnings: Warning[];
}

export interface ChainDetails {
  chain: Chain;
  stats?: ChainStats;
  proof?: ChainProof;
  warnings: Warning[];
}

export interface FoldSummary {
  report: FoldReport;
  outputNames: { prototxt: string; caffemodel?: string };
  sizes: { prototxt: number; caffemodel?: number };
  timings: Timings;
  /** Where the folded caffemodel was put: a file in the origin-private file system, or a Blob in memory. */
  outputStorage: 'opfs' | 'blob';
}

/** The folded files as Blobs made in the worker (a Blob crosses by reference; making one can block the thread). */
export interface FoldOutputs {
  prototxt: { name: string; blob: Blob };
  caffemodel?: { name: string; blob: Blob };
}

export type PhaseCallback = (phase: FoldPhase, done: number, total: number) => void;
