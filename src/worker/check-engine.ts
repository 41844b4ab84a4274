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
 * This file only loads the module in the worker (and keeps what the page asks of it: whether its runtime aborted,
 * how big its memory grew); the engine over it — loads, runs, memory planning, errors, and the facts of this build
 * that shape them — is core's, shared with the CLI: src/core/check/opencv.ts. WebAssembly memory is at most 1 GiB
 * and never shrinks, and an out-of-memory abort leaves the runtime unusable: the engine then says so and the page
 * starts a fresh worker for the next check.
 */
import { openCvCrash, openCvEngineOver, recordOpenCvCrash, WASM_MEMORY_LIMIT } from '../core/check/opencv';
import type { Engine } from '../core/check/types';

/* eslint-disable @typescript-eslint/no-explicit-any -- opencv.js has no useful types for its dnn module */
type Cv = any;

/** The biggest caffemodel the engine takes: a quarter of its memory (see core/check/opencv.ts, load). */
export const MAX_MODEL_BYTES = WASM_MEMORY_LIMIT / 4;

let loading: Promise<{ cv: Cv }> | undefined;
/** The module, as soon as its script ran (an abort can come before its runtime is ready). */
let module: Cv | undefined;
let ready: Cv | undefined;

/** Why the runtime aborted (out of memory, most likely), if it did: nothing more can run in this worker. */
export function engineAborted(): string | undefined {
  return module ? openCvCrash(module) : undefined;
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
    module = cv;
    cv.onAbort = (what: unknown) => recordOpenCvCrash(cv, String(what));
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

/** Core's Engine over the ready module (src/core/check/opencv.ts), its errors worded for the page. */
export function openCvEngine(cv: Cv): Engine {
  return openCvEngineOver(cv, { host: 'browser' });
}
