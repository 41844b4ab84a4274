/** What the fold analysis finds, and what a fold reports. Plain data: it crosses the worker boundary. */

export type ChainPattern =
  /** producer → BatchNorm → Scale */
  | 'producer-bn-scale'
  /** producer → BatchNorm */
  | 'producer-bn'
  /** producer → Scale (one bottom, per channel) */
  | 'producer-scale'
  /** BatchNorm → Scale with no foldable producer: replaced by one Scale layer with bias */
  | 'bn-scale';

export interface Chain {
  /** Stable id: the first layer's name. */
  id: string;
  pattern: ChainPattern;
  /** Badge text, e.g. "Conv+BN+Scale", "IP+BN", "Deconv+Scale", "BN+Scale→Scale". */
  label: string;
  /** The layer that absorbs the chain (Convolution/InnerProduct/Deconvolution…); for 'bn-scale' the Scale layer that survives. */
  target: string;
  producer?: string;
  bn?: string;
  scale?: string;
  /** All layers of the chain in order. */
  layers: string[];
  /** Layers deleted by the fold. */
  removed: string[];
  /** The blob name downstream layers read after the chain; the surviving layer writes it. */
  outputTop: string;
  /**
   * Set when the surviving layer moves to this layer's position in the file (a BN+Scale→Scale merge moves to the
   * BatchNorm's place when a layer between them overwrites the blob the BatchNorm read).
   */
  moveTo?: string;
}

export type RefusalCode =
  | 'bn-batch-stats'
  | 'bn-input-not-foldable'
  | 'producer-output-shared'
  | 'producer-weights-shared'
  | 'scale-two-bottoms'
  | 'scale-axis'
  | 'scale-num-axes'
  | 'blobs-missing'
  | 'blobs-shape'
  | 'bad-statistics'
  | 'layer-name-ambiguous'
  | 'rewire-conflict'
  | 'proof-failed'
  | 'structure-failed'
  | 'skipped';

export interface Refusal {
  /** The BatchNorm (or Scale) layer that is left as it is. */
  layer: string;
  type: string;
  code: RefusalCode;
  /** One short sentence for the UI and the CLI. */
  reason: string;
}

export interface Warning {
  layer?: string;
  message: string;
}

export interface Analysis {
  chains: Chain[];
  refusals: Refusal[];
  warnings: Warning[];
}

export interface ChainProof {
  chain: string;
  maxAbsError: number;
  maxRelError: number;
}

export interface ChainStats {
  chain: string;
  channels: number;
  alphaMin: number;
  alphaMax: number;
  /** Channels whose variance (after the factor) is below 1e-6: the fold magnifies them. */
  tinyVariance: number;
  zeroFactor: boolean;
  eps?: number;
}

export type FoldPhase = 'parse' | 'analyse' | 'fold' | 'verify' | 'write';

export interface FoldOptions {
  /** Chains (by id or any of their layer names) to leave as they are. */
  skip?: string[];
  /** How a zero BatchNorm scale factor is read: Caffe's rule (0 → mean = var = 0) or NVCaffe's (0 means 1). */
  zeroFactor?: 'caffe' | 'one';
  /** Relative error above which a fold is refused. */
  tolerance?: number;
  /** Seed of the proof's random input. */
  seed?: number;
  /**
   * Write the folded weights over the original ones in the caffemodel's bytes instead of into new arrays: no copy
   * of the weights is made (float32/float64 blobs stored as one packed run; others are copied as usual). The
   * proof runs before anything is written; afterwards the loaded model holds the folded values, so only callers
   * that own the bytes and drop the model after the fold (the worker, the CLI) ask for it.
   */
  inPlace?: boolean;
}

/** The structural proof of the folded text (wiring.ts): it passed, over this many layers and reads. */
export interface StructureProof {
  passed: true;
  layers: number;
  /** Bottoms and tops checked. */
  reads: number;
  /** The net outputs, each the same value in both nets. */
  outputs: string[];
}

export interface FoldReport {
  chains: (Chain & { proof: ChainProof; stats: ChainStats })[];
  refusals: Refusal[];
  warnings: Warning[];
  layers: { before: number; after: number };
  removedLayers: string[];
  structure: StructureProof;
}
