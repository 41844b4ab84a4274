/**
 * The whole-net check: the original and the folded pair run in a real Caffe engine (OpenCV DNN in WebAssembly)
 * on the same seeded input, every net output compared. Core holds the procedure and the verdict; the engine is
 * handed in (Node: src/cli, browser: a lazily started worker), so core stays free of any runtime.
 * Plain data: it crosses the worker boundary.
 */

/** One input tensor, NCHW (or any rank the engine takes), float32. */
export interface EngineTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A net built by the engine. */
export interface EngineNet {
  /**
   * Run once on these inputs and return the outputs of the named layers, in the order asked. Asking for a layer's
   * output also keeps the engine from fusing the next layer into it (that is how BatchNorm/Scale fusion is kept
   * off for the reference run).
   */
  forward(inputs: EngineTensor[], outputs: string[]): EngineTensor[];
  dispose(): void;
}

export interface Engine {
  /** e.g. "OpenCV DNN 4.12.0 (WebAssembly)". */
  readonly name: string;
  /**
   * The engine takes one image per input (opencv.js: blobFromImage): a net declared with a batch N > 1 is then
   * checked on a batch of 1 (BatchNorm and Scale act per channel, the same on every image), and the check says so.
   */
  readonly singleImage?: boolean;
  /** Build a net from the files' bytes. Throws an Error whose message says why the engine cannot read it. */
  load(prototxt: Uint8Array, caffemodel: Uint8Array): EngineNet;
}

/** One net output, compared. */
export interface OutputComparison {
  /** The blob (top) name. */
  name: string;
  shape: number[];
  maxAbsError: number;
  /** maxAbsError / the reference output's largest magnitude. */
  maxRelError: number;
  /** The bound maxRelError was held to (see WholeNetCheck.noise). */
  threshold: number;
  pass: boolean;
  /** This output's own float32 noise (maxRelError of the original against itself on a 1-ulp nudged input). */
  noise?: number;
}

export interface Latency {
  /** Median of the timed runs, in ms. */
  originalMs: number;
  foldedMs: number;
  /** foldedMs / originalMs. */
  ratio: number;
  runs: number;
}

export interface WholeNetCheck {
  engine: string;
  /** equal: every output within its threshold; different: at least one is not; not-run: the engine could not run it. */
  status: 'equal' | 'different' | 'not-run';
  /** For not-run: exactly why (the layer and its type where the engine names one). For different: what differs. */
  reason?: string;
  seed: number;
  /** The inputs as fed (see notes when that is not the declared shape). */
  inputs: { name: string; shape: number[] }[];
  /** What the check did differently from what the net declares, e.g. a batch of 1 for a declared 10. */
  notes?: string[];
  outputs: OutputComparison[];
  /** The float32 noise this net shows on its own (see the check's doc), which sets the thresholds: the worst output's. */
  noise: number;
  latency?: Latency;
}
