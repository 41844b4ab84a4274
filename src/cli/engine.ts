/**
 * The whole-net check's engine in Node: OpenCV DNN compiled to WebAssembly (@techstark/opencv-js), behind core's
 * Engine interface (src/core/check/types.ts).
 *
 * Facts about this build that shape the code (measured on it, see test/engine.test.ts):
 * - the module loads in ~0.7–2.5 s; `require` returns the Emscripten module, ready after `onRuntimeInitialized`
 *   (some builds return a Promise or a thenable: all three are handled);
 * - it installs process handlers that abort the runtime on any uncaught exception or unhandled rejection
 *   anywhere in the process: they are removed again;
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
 *   of it traps ("table index is out of bounds") and leaves the runtime unusable, so loads are planned (see load).
 */
import { createRequire } from 'node:module';
import type { Engine, EngineNet, EngineTensor } from '../core/check/types';

/* eslint-disable @typescript-eslint/no-explicit-any -- opencv.js has no useful types for the dnn module */
type Cv = any;

let loading: Promise<{ cv: Cv }> | undefined;

/**
 * Load opencv.js once per process. The module is boxed: it is a thenable whose `then` hands back the module
 * itself, so a Promise resolved with it would adopt it again, forever.
 */
export function loadOpenCv(fresh = false): Promise<{ cv: Cv }> {
  if (fresh) return instantiate(true);
  loading ??= instantiate(false);
  return loading;
}

/** A new instance of the module (its own 1 GiB of WebAssembly memory) when `fresh`: require's cache is bypassed. */
function instantiate(fresh: boolean): Promise<{ cv: Cv }> {
  return (async () => {
    const before = {
      uncaughtException: process.listeners('uncaughtException').slice(),
      unhandledRejection: process.listeners('unhandledRejection').slice(),
    };
    const require = createRequire(import.meta.url);
    if (fresh) delete require.cache[require.resolve('@techstark/opencv-js')];
    let cv: Cv = require('@techstark/opencv-js');
    for (const l of process.listeners('uncaughtException')) if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection')) if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
    if (cv instanceof Promise) cv = (await cv.then((m: Cv) => ({ m }))).m;
    if (!cv.Mat || !cv.readNetFromCaffe) {
      await new Promise<void>((resolve) => {
        const prev = cv.onRuntimeInitialized;
        cv.onRuntimeInitialized = () => {
          prev?.();
          resolve();
        };
      });
    }
    return { cv };
  })();
}

/** The text of an exception thrown by opencv.js (a C++ exception arrives as a pointer). */
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

/** "OpenCV(4.12.0) /home/ci/…/caffe_io.cpp:1126: error: (-2:Unspecified error) FAILED: x in function 'f'" → "x". */
function tidy(msg: string): string {
  return msg
    .replace(/^OpenCV\([^)]*\)\s+\S+:\d+:\s+error:\s+\([^)]*\)\s*/, '')
    .replace(/\s+in function '[^']*'\s*$/, '')
    .trim();
}

/** WebAssembly memory this build can grow to. */
export const WASM_MEMORY_LIMIT = 2 ** 30;

let fileCounter = 0;

export interface OpenCvEngineOptions {
  /**
   * A new instance of opencv.js with its own memory, instead of the process's shared one. Out of memory corrupts an
   * instance for good, and freed memory fragments: a process that checks many big models takes a fresh one each.
   */
  fresh?: boolean;
  /** The WebAssembly memory to plan loads against (default WASM_MEMORY_LIMIT, the build's maximum); tests raise it to reach the crash. */
  memoryLimit?: number;
}

/** Core's Engine over opencv.js. */
export async function openCvEngine(opts: OpenCvEngineOptions = {}): Promise<Engine> {
  const { cv } = await loadOpenCv(opts.fresh);
  const limit = opts.memoryLimit ?? WASM_MEMORY_LIMIT;
  let live = 0;
  let crashed: string | undefined;
  /** A WebAssembly trap (out of memory shows as "table index is out of bounds" or "memory access out of bounds") leaves the runtime unusable. */
  const fail = (e: unknown): Error => {
    const text = cvErrorText(cv, e);
    if (e instanceof Error && (e.name === 'RuntimeError' || /out of bounds|unreachable|abort/i.test(e.message))) {
      crashed = text;
      return new Error(`OpenCV's WebAssembly runtime failed (${text}); most likely it ran out of memory (at most ${(limit / 2 ** 20).toFixed(0)} MB)`);
    }
    if (/Failed to allocate|Insufficient memory|bad_alloc/i.test(text)) {
      // Measured: after OpenCV's own "Failed to allocate" inside readNetFromCaffe, deleting any net traps.
      crashed = text;
      return new Error(`${text}: OpenCV ran out of WebAssembly memory (at most ${(limit / 2 ** 20).toFixed(0)} MB, shared by every net this engine loads)`);
    }
    return new Error(text);
  };
  const version = typeof cv.getBuildInformation === 'function' ? /General configuration for OpenCV ([\d.]+)/.exec(cv.getBuildInformation())?.[1] : undefined;
  return {
    name: `OpenCV DNN ${version ?? '(version unknown)'} (WebAssembly)`,
    singleImage: true,
    load(prototxt: Uint8Array, caffemodel: Uint8Array): EngineNet {
      if (crashed) throw new Error(`OpenCV's WebAssembly runtime failed earlier (${crashed}) and cannot be used again in this process`);
      const mb = (n: number) => `${(n / 2 ** 20).toFixed(0)} MB`;
      // Measured on this build: a model of 251 MB loads (even beside another of 251 MB), one of 281 MB exhausts the
      // 1 GiB and crashes the runtime for good. So a model over a quarter of the limit is refused, and one that
      // would not fit beside the nets already loaded (about 3× its size while it is read) is refused cleanly too.
      if (4 * caffemodel.length > limit) {
        throw new Error(`the model is too big for OpenCV in WebAssembly: its ${mb(caffemodel.length)} of weights need about ${mb(4 * caffemodel.length)} while they are read, and WebAssembly memory is limited to ${mb(limit)} (a model of up to ${mb(limit / 4)} can be checked)`);
      }
      if (live + 3 * caffemodel.length > limit) {
        throw new Error(`not enough WebAssembly memory to read this ${mb(caffemodel.length)} model beside the ${mb(live)} of nets already loaded (limit ${mb(limit)})`);
      }
      const id = `${process.pid}_${++fileCounter}`;
      const p = `/cf_${id}.prototxt`;
      const w = `/cf_${id}.caffemodel`;
      let net: Cv;
      try {
        cv.FS_createDataFile('/', p.slice(1), prototxt, true, false, false);
        cv.FS_createDataFile('/', w.slice(1), caffemodel, true, false, false);
        net = cv.readNetFromCaffe(p, w);
      } catch (e) {
        throw fail(e);
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
              if (e instanceof Error && !/^(BindingError|RuntimeError)/.test(e.name) && !/out of bounds/.test(e.message)) throw e;
              throw fail(e);
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
          if (crashed) return;
          try {
            net.delete();
          } catch (e) {
            crashed = cvErrorText(cv, e);
          }
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
  if (c !== 1 && c !== 3 && c !== 4) throw new Error(`input "${t.name}" has ${c} channels: OpenCV in WebAssembly makes an input only of 1, 3 or 4 channels (blobFromImage)`);
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
