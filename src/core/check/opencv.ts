/**
 * Core's Engine over an opencv.js module (OpenCV DNN compiled to WebAssembly, @techstark/opencv-js), one
 * implementation for both hosts: src/cli/engine.ts (Node) and src/worker/check-engine.ts (the page's check worker)
 * load the module their own way and hand it in here. Core imports no OpenCV: the module arrives as a value, typed
 * structurally by the few members used (OpenCvModule).
 *
 * Facts about this build that shape the code (measured on it, see test/check.test.ts and test/engine-memory.test.ts):
 * - files go in through its in-memory file system (`FS_createDataFile`), `readNetFromCaffe(path, path)` reads
 *   them and they are unlinked at once (the net keeps its own copy of the weights);
 * - its C++ exceptions arrive as a number (a pointer): `exceptionFromPtr(n).msg` is the text;
 * - `dnn_Net` has no `enableFusion`: BatchNorm/Scale fusion is kept off by requesting the producer's output
 *   (core decides which); `forward2` takes a plain array of layer names (a StringVector throws);
 * - a net forwarded once and then asked for a different set of outputs returns wrong values: EngineNet refuses
 *   a second, different set of outputs (build a fresh net for every configuration);
 * - an input is made as an H×W Mat with C channels (HWC) and `blobFromImage` turns it into [1, C, H, W]; this
 *   build binds neither N-d Mats nor `blobFromImages`, and blobFromImage takes 1, 3 or 4 channels only, so an
 *   input must be [1, 1|3|4, H, W];
 * - WebAssembly memory is at most 1 GiB and does not shrink: every Mat, MatVector and net is deleted; running out
 *   of it traps ("table index is out of bounds") or aborts, and leaves the runtime unusable, so loads are planned
 *   (see load). What is loaded and whether the runtime failed belong to the module instance, not to one engine:
 *   every engine built over the same module shares them (OpenCvState).
 */
import type { Engine, EngineNet, EngineTensor } from './types';

/** A Mat as used here. */
export interface CvMat {
  depth(): number;
  convertTo(dst: CvMat, type: number): void;
  readonly data32F: Float32Array;
  readonly matSize: ArrayLike<number>;
  delete(): void;
}

/** The members of an opencv.js module the engine uses (the module is handed in by its host; core never imports it). */
export interface OpenCvModule {
  readonly CV_32F: number;
  Mat: new (rows?: number, cols?: number, type?: number) => CvMat;
  MatVector: new () => { get(i: number): CvMat; delete(): void };
  Size: new (width: number, height: number) => unknown;
  Scalar: new (v0: number, v1: number, v2: number, v3: number) => unknown;
  blobFromImage(
    image: CvMat,
    scale: number,
    size: unknown,
    mean: unknown,
    swapRB: boolean,
    crop: boolean,
    ddepth: number,
  ): CvMat;
  readNetFromCaffe(
    prototxt: string,
    caffemodel: string,
  ): {
    setInput(blob: CvMat, name: string): void;
    forward2(outputs: { get(i: number): CvMat }, names: string[]): void;
    delete(): void;
  };
  FS_createDataFile(
    parent: string,
    name: string,
    data: Uint8Array,
    canRead: boolean,
    canWrite: boolean,
    canOwn: boolean,
  ): unknown;
  FS_unlink(path: string): void;
  exceptionFromPtr?(ptr: number): { msg?: unknown } | undefined;
  getBuildInformation?(): string;
  /** The WebAssembly memory, as bytes (its length is the memory's size now). */
  HEAPU8?: Uint8Array;
}

/** WebAssembly memory this build can grow to (its "maximum", 1 GiB). */
export const WASM_MEMORY_LIMIT = 2 ** 30;

/** What one module instance holds: shared by every engine built over it. */
interface OpenCvState {
  /** Bytes of weights in the nets loaded now. */
  live: number;
  /** Set when the runtime failed (trapped, aborted, or OpenCV ran out of memory): nothing more can run in it. */
  crashed?: string;
}

const states = new WeakMap<object, OpenCvState>();
function stateOf(cv: OpenCvModule): OpenCvState {
  let s = states.get(cv);
  if (!s) states.set(cv, (s = { live: 0 }));
  return s;
}

/** Why this module's runtime failed, if it did (the page's worker reports it, and is then replaced). */
export function openCvCrash(cv: OpenCvModule): string | undefined {
  return states.get(cv)?.crashed;
}

/** Record that the runtime failed outside a call of the engine (the worker's `onAbort`); the first reason is kept. */
export function recordOpenCvCrash(cv: OpenCvModule, what: string): void {
  stateOf(cv).crashed ??= what;
}

/** "OpenCV(4.12.0) /home/ci/…/caffe_io.cpp:1126: error: (-2:Unspecified error) FAILED: x in function 'f'" → "x". */
function tidy(msg: string): string {
  return msg
    .replace(/^OpenCV\([^)]*\)\s+\S+:\d+:\s+error:\s+\([^)]*\)\s*/, '')
    .replace(/\s+in function '[^']*'\s*$/, '')
    .trim();
}

/** The text of what opencv.js threw (a C++ exception arrives as a pointer; an abort as a string). */
export function cvErrorText(cv: OpenCvModule, e: unknown): string {
  if (typeof e === 'number') {
    try {
      const msg = cv.exceptionFromPtr?.(e)?.msg;
      if (typeof msg === 'string' && msg) return tidy(msg);
    } catch {
      /* not an exception pointer */
    }
    return `OpenCV failed (exception ${e})`;
  }
  if (e instanceof Error) return tidy(e.message);
  return String(e);
}

const MB = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;

export interface OpenCvEngineOptions {
  /**
   * The WebAssembly memory to plan loads against (default WASM_MEMORY_LIMIT, the build's maximum). An option only so
   * that a test can raise it and let a model through that really exhausts the memory (test/engine-memory.test.ts).
   */
  memoryLimit?: number;
  /**
   * Who reads the engine's errors when the runtime fails; only the words differ, the handling is the same.
   * - 'node' (the CLI, the tests): the runtime's own words, and that it cannot be used again in this process — a
   *   Node process keeps its instance (the CLI's engine lives for the whole run), so that is what happens next.
   * - 'browser' (the page's check worker): one plain sentence with the memory in use, and that the model is too big
   *   for the in-browser engine — the page ends a worker whose runtime failed and starts a fresh one for the next
   *   check, so "this process" would be wrong there, and the CLI is where a bigger model can still be checked.
   */
  host: 'node' | 'browser';
}

let fileCounter = 0;

/** Core's Engine over a ready opencv.js module (its runtime initialised). */
export function openCvEngineOver(cv: OpenCvModule, opts: OpenCvEngineOptions): Engine {
  const rt: Runtime = {
    cv,
    limit: opts.memoryLimit ?? WASM_MEMORY_LIMIT,
    browser: opts.host === 'browser',
    state: stateOf(cv),
  };
  const version =
    typeof cv.getBuildInformation === 'function'
      ? /General configuration for OpenCV ([\d.]+)/.exec(String(cv.getBuildInformation()))?.[1]
      : undefined;
  return {
    name: `OpenCV DNN ${version ?? '(version unknown)'} (WebAssembly)`,
    singleImage: true,
    load(prototxt: Uint8Array, caffemodel: Uint8Array): EngineNet {
      refuseIfCrashed(rt);
      refuseIfTooBig(rt, caffemodel);
      const net = readNet(rt, prototxt, caffemodel);
      return loadedNet(rt, net, caffemodel.length);
    },
  };
}

/** What an engine works with: its module, the memory it plans against, its host, and the module's shared state. */
interface Runtime {
  cv: OpenCvModule;
  limit: number;
  browser: boolean;
  state: OpenCvState;
}

type CvNet = ReturnType<OpenCvModule['readNetFromCaffe']>;

/** The browser's one sentence for any failure of the runtime. */
function outOfMemory({ cv, limit }: Runtime): Error {
  return new Error(
    `OpenCV in WebAssembly ran out of memory (${MB(cv.HEAPU8?.length ?? 0)} in use of at most ${MB(limit)}): this model is too big for the in-browser engine.`,
  );
}

/** Refuse to touch a runtime that failed before. */
function refuseIfCrashed(rt: Runtime): void {
  const { browser, state } = rt;
  if (state.crashed === undefined) return;
  if (browser) throw outOfMemory(rt);
  throw new Error(
    `OpenCV's WebAssembly runtime failed earlier (${state.crashed}) and cannot be used again in this process.`,
  );
}

/** What opencv.js threw, as an Error; a failure of the runtime is recorded (state.crashed) and said as such. */
function fail(rt: Runtime, e: unknown): Error {
  const { cv, limit, browser, state } = rt;
  const text = cvErrorText(cv, e);
  // A WebAssembly trap (out of memory shows as "table index is out of bounds" or "memory access out of bounds") or
  // an abort leaves the runtime unusable.
  const trapped =
    e instanceof Error && (e.name === 'RuntimeError' || /out of bounds|unreachable|abort/i.test(e.message));
  // Measured: after OpenCV's own "Failed to allocate" inside readNetFromCaffe, deleting any net traps.
  const allocFailed = /Failed to allocate|Insufficient memory|bad_alloc/i.test(text);
  if (trapped || allocFailed) state.crashed ??= text;
  if (browser) {
    if (state.crashed !== undefined || /out of memory|OOM|Cannot enlarge memory|out of bounds|abort\(/i.test(text))
      return outOfMemory(rt);
    return new Error(text);
  }
  if (trapped)
    return new Error(
      `OpenCV's WebAssembly runtime failed (${text}); most likely it ran out of memory (at most ${MB(limit)}).`,
    );
  if (allocFailed)
    return new Error(
      `${text}: OpenCV ran out of WebAssembly memory (at most ${MB(limit)}, shared by every net this engine loads).`,
    );
  return new Error(text);
}

/**
 * Measured on this build: a model of 251 MB loads (even beside another of 251 MB), one of 281 MB exhausts the
 * 1 GiB and crashes the runtime for good. So a model over a quarter of the limit is refused, and one that
 * would not fit beside the nets already loaded (about 3× its size while it is read) is refused cleanly too.
 */
function refuseIfTooBig({ limit, browser, state }: Runtime, caffemodel: Uint8Array): void {
  if (4 * caffemodel.length > limit) {
    const upTo = browser
      ? `models of up to ${MB(limit / 4)} can be checked in the browser`
      : `a model of up to ${MB(limit / 4)} can be checked`;
    throw new Error(
      `The model is too big for OpenCV in WebAssembly: its ${MB(caffemodel.length)} of weights need about ${MB(4 * caffemodel.length)} while they are read, and WebAssembly memory is limited to ${MB(limit)} (${upTo}).`,
    );
  }
  if (state.live + 3 * caffemodel.length > limit) {
    throw new Error(
      `There is not enough WebAssembly memory to read this ${MB(caffemodel.length)} model beside the ${MB(state.live)} of nets already loaded (limit ${MB(limit)}).`,
    );
  }
}

/** The net read by OpenCV from its in-memory file system; the files are gone again when it returns. */
function readNet(rt: Runtime, prototxt: Uint8Array, caffemodel: Uint8Array): CvNet {
  const { cv } = rt;
  const id = ++fileCounter;
  const p = `/cf_${id}.prototxt`;
  const w = `/cf_${id}.caffemodel`;
  try {
    cv.FS_createDataFile('/', p.slice(1), prototxt, true, false, false);
    cv.FS_createDataFile('/', w.slice(1), caffemodel, true, false, false);
    return cv.readNetFromCaffe(p, w);
  } catch (e) {
    throw fail(rt, e);
  } finally {
    for (const f of [p, w]) {
      try {
        cv.FS_unlink(f);
      } catch {
        /* was not created */
      }
    }
  }
}

/** The EngineNet over a net read: it counts in state.live until disposed, and answers one set of outputs only. */
function loadedNet(rt: Runtime, net: CvNet, size: number): EngineNet {
  const { cv, state } = rt;
  let asked: string | undefined;
  let disposed = false;
  state.live += size;
  return {
    forward(inputs: EngineTensor[], outputs: string[]): EngineTensor[] {
      if (disposed) throw new Error('This net was disposed.');
      refuseIfCrashed(rt);
      const key = JSON.stringify(outputs);
      if (asked !== undefined && asked !== key) {
        throw new Error(
          'OpenCV returns wrong values when a net already run is asked for other outputs: load a fresh net for every set of outputs.',
        );
      }
      asked = key;
      return forwardNet(rt, net, inputs, outputs);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      state.live -= size;
      if (state.crashed !== undefined) return;
      try {
        net.delete();
      } catch (e) {
        state.crashed = cvErrorText(cv, e);
      }
    },
  };
}

/** One forward: the inputs set as blobs, the outputs read back as float32 copies; every Mat made is deleted. */
function forwardNet(rt: Runtime, net: CvNet, inputs: EngineTensor[], outputs: string[]): EngineTensor[] {
  const { cv } = rt;
  const mats: CvMat[] = [];
  const mv = new cv.MatVector();
  try {
    try {
      for (const t of inputs) {
        const blob = toBlob(cv, t);
        mats.push(blob);
        net.setInput(blob, t.name);
      }
      net.forward2(mv, outputs);
    } catch (e) {
      // Our own refusals (toBlob's) pass as they are; what opencv.js threw is explained.
      if (e instanceof Error && !/^(BindingError|RuntimeError)/.test(e.name) && !/out of bounds/.test(e.message))
        throw e;
      throw fail(rt, e);
    }
    return outputTensors(cv, mv, outputs, mats);
  } finally {
    for (const m of mats) m.delete();
    mv.delete();
  }
}

/** The forward's outputs as float32 tensors; the Mats met are added to `mats` (the caller deletes them). */
function outputTensors(
  cv: OpenCvModule,
  mv: InstanceType<OpenCvModule['MatVector']>,
  outputs: string[],
  mats: CvMat[],
): EngineTensor[] {
  const res: EngineTensor[] = [];
  for (let i = 0; i < outputs.length; i++) {
    const m = mv.get(i);
    mats.push(m);
    let data: Float32Array;
    if (m.depth() === cv.CV_32F) data = m.data32F.slice();
    else {
      const f = new cv.Mat();
      mats.push(f);
      m.convertTo(f, cv.CV_32F);
      data = f.data32F.slice();
    }
    res.push({ name: outputs[i], shape: Array.from(m.matSize), data });
  }
  return res;
}

/** [1, C, H, W] float32 → an OpenCV blob; other shapes are refused with why. */
function toBlob(cv: OpenCvModule, t: EngineTensor): CvMat {
  const s = t.shape;
  if (s.length !== 4 || s[0] !== 1) {
    throw new Error(
      `Input "${t.name}" has shape [${s.join(', ')}]: OpenCV in WebAssembly takes one image, [1, C, H, W], per input.`,
    );
  }
  const [, c, h, w] = s;
  if (c !== 1 && c !== 3 && c !== 4)
    throw new Error(
      `Input "${t.name}" has ${c} channels: OpenCV in WebAssembly makes an input only of 1, 3 or 4 channels (blobFromImage).`,
    );
  if (t.data.length !== c * h * w)
    throw new Error(`Input "${t.name}" has ${t.data.length} values for the shape [${s.join(', ')}].`);
  const img = new cv.Mat(h, w, cv.CV_32F + ((c - 1) << 3));
  try {
    const d = img.data32F;
    const hw = h * w;
    for (let ch = 0; ch < c; ch++) {
      const src = ch * hw;
      for (let i = 0; i < hw; i++) d[i * c + ch] = t.data[src + i];
    }
    return cv.blobFromImage(img, 1.0, new cv.Size(w, h), new cv.Scalar(0, 0, 0, 0), false, false, cv.CV_32F);
  } finally {
    img.delete();
  }
}
