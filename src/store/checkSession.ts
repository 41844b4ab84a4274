/**
 * The whole-net check's session: its worker (check-worker.ts), apart from the fold worker, is started the first
 * time a check runs, so the 10.9 MB engine (OpenCV DNN in WebAssembly) is fetched and compiled only then. One check
 * at a time: a new run, or abandon(), ends the one running (its worker terminated, its call rejected with
 * Cancelled). A worker whose engine a check left big (WebAssembly memory never shrinks) or broken ends itself.
 */
import * as Comlink from 'comlink';
import type { WholeNetCheck } from '../core/check/types';
import type { CheckOptions, CheckPairIn, CheckWorkerApi } from '../worker/check-api';
import type { Result } from '../worker/types';
import { Cancelled, WorkerBridge, type WorkerLike } from './bridge';

/** After a check, a worker whose WebAssembly memory grew beyond this is ended (that memory never shrinks). */
const KEEP_ENGINE_MAX_HEAP = 256 * 2 ** 20;

export interface CheckRun {
  result: Result<WholeNetCheck>;
  /** Wall time of the whole check, engine load included. */
  ms: number;
}

/**
 * Resolves when the main thread is idle (at most 2 s from now): the check started at the end of a fold waits for
 * the folded graph and the report to be drawn first, so its worker's start (compiling the 10.9 MB engine on a
 * second core that may be busy) does not compete with those tasks.
 */
const idle = () =>
  new Promise<void>((resolve) => {
    if (typeof requestIdleCallback === 'function') requestIdleCallback(() => resolve(), { timeout: 2000 });
    else setTimeout(resolve, 300);
  });

export class CheckSession {
  private readonly bridge: WorkerBridge<CheckWorkerApi>;
  /** Bumped by each run and by abandon(), so a run knows whether it is still the current one. */
  private runs = 0;

  constructor(start: () => WorkerLike) {
    this.bridge = new WorkerBridge<CheckWorkerApi>(start);
  }

  /**
   * Check a folded pair against its original. Rejects with Cancelled once another run has begun or abandon() was
   * called, and with the worker's error if the worker stopped (it is ended, and the next run starts a new one).
   */
  async run(
    original: CheckPairIn,
    folded: CheckPairIn,
    opts: CheckOptions & { whenIdle?: boolean },
    onProgress: (step: string, done: number, total: number) => void,
  ): Promise<CheckRun> {
    if (this.bridge.busy) this.bridge.terminate();
    const seq = ++this.runs;
    const current = () => {
      if (seq !== this.runs) throw new Cancelled();
    };
    if (opts.whenIdle) {
      await idle();
      current();
    }
    const t0 = performance.now();
    const progress = Comlink.proxy((step: string, done: number, total: number) => {
      if (seq === this.runs) onProgress(step, done, total);
    });
    let result: Result<WholeNetCheck>;
    try {
      result = await this.bridge.call((w) =>
        w.check(original, folded, { seed: opts.seed, timingRuns: opts.timingRuns }, progress),
      );
    } catch (e) {
      current();
      if (!(e instanceof Cancelled)) this.bridge.terminate();
      throw e;
    }
    current();
    const ms = performance.now() - t0;
    void this.endIfSpent(seq, result.ok);
    return { result, ms };
  }

  /** Stop the check running, if any, and end its worker. */
  abandon(): void {
    this.runs++;
    this.bridge.terminate();
  }

  /** The engine's memory never shrinks, and an aborted runtime cannot run again: such a worker ends (the next check starts a fresh one, ~1 s). */
  private async endIfSpent(seq: number, ok: boolean): Promise<void> {
    try {
      const st = await this.bridge.call((w) => w.state());
      if (seq !== this.runs) return;
      if (st.aborted || st.heapBytes > KEEP_ENGINE_MAX_HEAP || !ok) this.close();
    } catch {
      /* already ended */
    }
  }

  /** Let the worker end itself (no main-thread cost for its big WebAssembly memory); the next check starts a new one. */
  private close(): void {
    void this.bridge.call((w) => w.close()).catch(() => {});
    this.bridge.terminate(true);
  }
}

/** The page's check worker. */
export const checks = new CheckSession(
  () => new Worker(new URL('../worker/check-worker.ts', import.meta.url), { type: 'module', name: 'caffe-fold-check' }),
);
