/**
 * The whole-net check's engine in Node: OpenCV DNN compiled to WebAssembly (@techstark/opencv-js), behind core's
 * Engine interface (src/core/check/types.ts). This file only loads the module in Node; the engine over it (loads,
 * runs, memory planning, errors) is core's, shared with the page's worker: src/core/check/opencv.ts, with the facts
 * of this build that shape it.
 *
 * Facts about loading it in Node (measured):
 * - the module loads in ~0.7–2.5 s; `require` returns the Emscripten module, ready after `onRuntimeInitialized`
 *   (some builds return a Promise or a thenable: all three are handled);
 * - it installs process handlers that abort the runtime on any uncaught exception or unhandled rejection
 *   anywhere in the process: they are removed again;
 * - WebAssembly memory is at most 1 GiB per instance and does not shrink: a fresh instance (`fresh`) has its own.
 */
import { createRequire } from 'node:module';
import { openCvEngineOver } from '../core/check/opencv';
export { WASM_MEMORY_LIMIT } from '../core/check/opencv';
import type { Engine } from '../core/check/types';

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
    for (const l of process.listeners('uncaughtException'))
      if (!before.uncaughtException.includes(l)) process.removeListener('uncaughtException', l);
    for (const l of process.listeners('unhandledRejection'))
      if (!before.unhandledRejection.includes(l)) process.removeListener('unhandledRejection', l);
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

export interface OpenCvEngineOptions {
  /**
   * A new instance of opencv.js with its own memory, instead of the process's shared one. Out of memory corrupts an
   * instance for good, and freed memory fragments: a process that checks many big models takes a fresh one each.
   * (Engines over the shared instance share its memory planning, and its refusal once its runtime failed.)
   */
  fresh?: boolean;
  /** The WebAssembly memory to plan loads against (default WASM_MEMORY_LIMIT, the build's maximum); tests raise it to reach the crash. */
  memoryLimit?: number;
}

/** Core's Engine over opencv.js (src/core/check/opencv.ts), its errors worded for a Node process. */
export async function openCvEngine(opts: OpenCvEngineOptions = {}): Promise<Engine> {
  const { cv } = await loadOpenCv(opts.fresh);
  return openCvEngineOver(cv, { memoryLimit: opts.memoryLimit, host: 'node' });
}
