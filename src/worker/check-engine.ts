/**
 * The whole-net check's engine in the browser: OpenCV DNN compiled to WebAssembly (@techstark/opencv-js, one
 * 10.9 MB script with the wasm embedded), behind core's Engine interface (src/core/check/types.ts). It runs only in
 * the check worker (check-worker.ts), which the page starts the first time a check is asked for; the script is a
 * chunk of our own build, served from this origin and precached by the service worker like every other file.
 *
 * How this build loads in a module worker: rolldown wraps its UMD file as CommonJS, and a separate chunk, loaded
 * by `import()` when the first check starts, holds it (boxed: see opencv-box.ts). A module worker has no `importScripts`, so Emscripten takes itself for a
 * "shell": it decodes the embedded wasm from its data: URI itself (no fetch) and instantiates it from bytes —
 * which, like embind's `new Function`, needs the worker's own policy to allow it (see vite.config.ts).
 * The module is a thenable whose `then` hands back the module itself: it is never resolved as a Promise's value,
 * only boxed ({ cv }); it is ready once `onRuntimeInitialized` has run.
 *
 * Facts of this build (measured; see also src/cli/engine.ts, the Node side): C++ exceptions arrive as a number
 * (`exceptionFromPtr(n).msg` is the text); `forward2` takes a plain array of layer names; a net forwarded once and
 * then asked for another set of outputs returns wrong values (refused here); one [1, C, H, W] image per input
 * (no N-d Mats, no `blobFromImages`); WebAssembly memory is at most 1 GiB and never shrinks, and an out-of-memory
 * abort leaves the runtime unusable: the engine then says so and the page starts a fresh worker for the next check.
 */
import type { Engine, EngineNet, EngineTensor } from '../core/check/types';

/* eslint-disable @typescript-eslint/no-explicit-any -- opencv.js has no useful types for its dnn module */
type Cv = any;

/** WebAssembly memory this build can grow to (its "maximum", 1 GiB). */
export const WASM_MEMORY_LIMIT = 2 ** 30;

let loading: Promise<{ cv: Cv }> | undefined;
/** Set when the runtime aborted (out of memory, most likely): nothing more can run in this worker. */
let aborted: string | undefined;

let ready: Cv | undefined;

export function engineAborted(): string | undefined {
  return aborted;
}

/** The engine's WebAssembly memory (0 before it is loaded). */
export function engineHeapBytes(): number {
  return (ready?.HEAPU8?.length as number | undefined) ?? 0;
}

/** Load opencv.js once per worker; resolves when its runtime is ready. */
export function loadOpenCv(): Promise<{ cv: Cv }> {
  loading ??= (async () => {
    // User Timing measures (visible in DevTools' performance panel, read by the e2e): fetching and evaluating the
    // script, then compiling and starting the runtime.
    const t0 = performance.now();
    let cv: Cv = (await import('./opencv-box')).box.cv;
    const t1 = performance.now();
    performance.measure('caffe-fold engine script', { start: t0, end: t1 });
    if (cv instanceof Promise) cv = (await cv.then((m: Cv) => ({ m }))).m;
    cv.onAbort = (what: unknown) => {
      aborted = String(what);
    };
    if (!cv.Mat || !cv.readNetFromCaffe) {
      await new Promise<void>((resolve) => {
        const prev = cv.onRuntimeInitialized;
        cv.onRuntimeInitialized = () => {
          prev?.();
          resolve();
        };
      });
    }
    performance.measure('caffe-fold engine runtime', { start: t1, end: performance.now() });
    ready = cv;
    return { cv };
  })();
  return loading;
}

/** "OpenCV(4.12.0) /home/ci/…/caffe_io.cpp:1126: error: (-2:Unspecified error) FAILED: x in function 'f'" → "x". */
function tidy(msg: string): string {
  return msg
    .replace(/^OpenCV\([^)]*\)\s+\S+:\d+:\s+error:\s+\([^)]*\)\s*/, '')
    .replace(/\s+in function '[^']*'\s*$/, '')
    .trim();
}

/** The text of what opencv.js threw (a C++ exception arrives as a pointer; an abort as a string). */
export function cvErrorText(cv: Cv, e: unknown): string {
  if (typeof e === 'number') {
    try {
      const msg = cv.exceptionFromPtr(e)?.msg;
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

function explain(cv: Cv, e: unknown): Error {
  const msg = cvErrorText(cv, e);
  const heap = cv.HEAPU8 ? (cv.HEAPU8.length as number) : 0;
  // A WebAssembly trap (out of memory shows as "table index is out of bounds" or "memory access out of bounds")
  // leaves the runtime unusable, like an abort.
  if (e instanceof Error && (e.name === 'RuntimeError' || /out of bounds|unreachable|abort/i.test(e.message))) aborted ??= msg;
  if (aborted || /bad_alloc|Insufficient memory|out of memory|OOM|Cannot enlarge memory|out of bounds|abort\(/i.test(msg)) {
    return new Error(
      `OpenCV in WebAssembly ran out of memory (${MB(heap)} in use of at most ${MB(WASM_MEMORY_LIMIT)}): this model is too big for the in-browser engine.`,
    );
  }
  return new Error(msg);
}

/** The biggest caffemodel the engine takes: a quarter of its memory (see load). */
export const MAX_MODEL_BYTES = WASM_MEMORY_LIMIT / 4;

let fileCounter = 0;
/** Bytes of weights in the nets loaded now. */
let live = 0;

/** Core's Engine over a ready opencv.js module. */
export function openCvEngine(cv: Cv): Engine {
  const version = /OpenCV ([\d.]+)/.exec(typeof cv.getBuildInformation === 'function' ? String(cv.getBuildInformation()) : '')?.[1];
  return {
    name: `OpenCV DNN ${version ?? '4.12.0'} (WebAssembly)`,
    singleImage: true,
    load(prototxt: Uint8Array, caffemodel: Uint8Array): EngineNet {
      if (aborted) throw explain(cv, aborted);
      // Measured on this build (src/cli/engine.ts): a model of 251 MB loads, even beside another of 251 MB; one of
      // 281 MB exhausts the 1 GiB and crashes the runtime for good. So a model over a quarter of the limit is
      // refused, and one that would not fit beside the nets already loaded (about 3× its size while read) too.
      if (caffemodel.length > MAX_MODEL_BYTES) {
        throw new Error(
          `the model is too big for OpenCV in WebAssembly: its ${MB(caffemodel.length)} of weights need about ${MB(4 * caffemodel.length)} while they are read, and WebAssembly memory is limited to ${MB(WASM_MEMORY_LIMIT)} (models of up to ${MB(MAX_MODEL_BYTES)} can be checked in the browser)`,
        );
      }
      if (live + 3 * caffemodel.length > WASM_MEMORY_LIMIT) {
        throw new Error(`not enough WebAssembly memory to read this ${MB(caffemodel.length)} model beside the ${MB(live)} of nets already loaded (limit ${MB(WASM_MEMORY_LIMIT)})`);
      }
      const id = ++fileCounter;
      const p = `/cf_${id}.prototxt`;
      const w = `/cf_${id}.caffemodel`;
      let net: Cv;
      try {
        cv.FS_createDataFile('/', p.slice(1), prototxt, true, false, false);
        cv.FS_createDataFile('/', w.slice(1), caffemodel, true, false, false);
        net = cv.readNetFromCaffe(p, w);
      } catch (e) {
        throw explain(cv, e);
      } finally {
        for (const f of [p, w]) {
          try {
            cv.FS_unlink(f);
          } catch {
            /* was not created */
          }
        }
      }
      let asked: string | undefined;
      let disposed = false;
      const size = caffemodel.length;
      live += size;
      return {
        forward(inputs: EngineTensor[], outputs: string[]): EngineTensor[] {
          if (disposed) throw new Error('this net was disposed');
          if (aborted) throw explain(cv, aborted);
          const key = JSON.stringify(outputs);
          if (asked !== undefined && asked !== key) {
            throw new Error('OpenCV returns wrong values when a net already run is asked for other outputs: load a fresh net for every set of outputs');
          }
          asked = key;
          const mats: Cv[] = [];
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
              if (e instanceof Error && !/^(BindingError|RuntimeError)/.test(e.name) && !/out of bounds/.test(e.message)) throw e;
              throw explain(cv, e);
            }
            const res: EngineTensor[] = [];
            for (let i = 0; i < outputs.length; i++) {
              const m = mv.get(i);
              mats.push(m);
              let data: Float32Array;
              if (m.depth() === cv.CV_32F) data = (m.data32F as Float32Array).slice();
              else {
                const f = new cv.Mat();
                mats.push(f);
                m.convertTo(f, cv.CV_32F);
                data = (f.data32F as Float32Array).slice();
              }
              res.push({ name: outputs[i], shape: Array.from(m.matSize as number[]), data });
            }
            return res;
          } finally {
            for (const m of mats) m.delete();
            mv.delete();
          }
        },
        dispose() {
          if (disposed) return;
          disposed = true;
          live -= size;
          if (!aborted) net.delete();
        },
      };
    },
  };
}

/** [1, C, H, W] float32 → an OpenCV blob; other shapes are refused with why. */
function toBlob(cv: Cv, t: EngineTensor): Cv {
  const s = t.shape;
  if (s.length !== 4 || s[0] !== 1) {
    throw new Error(`input "${t.name}" has shape [${s.join(', ')}]: OpenCV in WebAssembly takes one image, [1, C, H, W], per input`);
  }
  const [, c, h, w] = s;
  if (c < 1 || c > 512) throw new Error(`input "${t.name}" has ${c} channels: OpenCV in WebAssembly takes 1 to 512`);
  if (t.data.length !== c * h * w) throw new Error(`input "${t.name}": ${t.data.length} values for shape [${s.join(', ')}]`);
  const img = new cv.Mat(h, w, cv.CV_32F + ((c - 1) << 3));
  try {
    const d = img.data32F as Float32Array;
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
