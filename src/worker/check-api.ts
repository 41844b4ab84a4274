/**
 * The check worker's API (check-worker.ts): the whole-net check of an original and a folded pair, run by core's
 * compareModels on OpenCV DNN in WebAssembly (check-engine.ts). A worker of its own, apart from the fold worker,
 * started by the page only when a check is first asked for, so the 10.9 MB engine is fetched and compiled only then,
 * and terminated to cancel a check or to give its WebAssembly memory back (which never shrinks).
 *
 * The worker reads the Files itself: no model bytes pass through the main thread.
 */
import { compareModels } from '../core/check';
import type { WholeNetCheck } from '../core/check/types';
import { engineAborted, engineHeapBytes, loadOpenCv, openCvEngine } from './check-engine';
import { attempt } from './errors';
import type { FileIn, Result } from './types';

export interface CheckPairIn {
  prototxt: FileIn;
  caffemodel: FileIn;
}

export interface CheckOptions {
  seed?: number;
  timingRuns?: number;
}

/** A step of the check: its text (e.g. "Loading the engine", core's steps) and, where it has parts, how far. */
export type CheckProgressCallback = (step: string, done: number, total: number) => void;

const bytesOf = async (f: FileIn) => new Uint8Array(await f.file.arrayBuffer());

export const checkApi = {
  async check(
    original: CheckPairIn,
    folded: CheckPairIn,
    opts: CheckOptions = {},
    onProgress?: CheckProgressCallback,
  ): Promise<Result<WholeNetCheck>> {
    return attempt(async () => {
      // Progress reaches the page at most every 50 ms, and at every new step: each report is a message and a
      // store update on the main thread.
      let last = 0;
      let lastStep = '';
      const report = (step: string, done: number, total: number) => {
        const now = performance.now();
        if (!onProgress || (step === lastStep && done !== total && now - last < 50)) return;
        last = now;
        lastStep = step;
        void onProgress(step, done, total);
      };
      report('Loading the engine (OpenCV DNN, WebAssembly)', 0, 1);
      const [{ cv }, op, ow, fp, fw] = await Promise.all([
        loadOpenCv(),
        bytesOf(original.prototxt),
        bytesOf(original.caffemodel),
        bytesOf(folded.prototxt),
        bytesOf(folded.caffemodel),
      ]);
      report('Loading the engine (OpenCV DNN, WebAssembly)', 1, 1);
      return compareModels(
        openCvEngine(cv),
        { prototxt: op, caffemodel: ow },
        { prototxt: fp, caffemodel: fw },
        { ...opts, onProgress: report },
      );
    });
  },

  /** The engine's WebAssembly memory now (it never shrinks), and whether its runtime aborted. */
  async state(): Promise<{ heapBytes: number; aborted?: string }> {
    return { heapBytes: engineHeapBytes(), aborted: engineAborted() };
  },

  /**
   * End this worker from inside. Ended from the page (terminate), a worker holding a big WebAssembly memory costs
   * the page's main thread a 117–126 ms task (measured on ResNet-50's check, ~1 GB); closed here, that teardown is
   * the worker's own.
   */
  close(): void {
    (self as unknown as { close(): void }).close();
  },
};

export type CheckWorkerApi = typeof checkApi;
