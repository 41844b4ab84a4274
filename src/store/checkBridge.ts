/**
 * The whole-net check's worker: its own, apart from the fold worker (bridge.ts), created the first time a check
 * is run, so the 10.9 MB engine (OpenCV DNN in WebAssembly) is fetched and compiled only then. Terminated to cancel
 * a check, and after a check that left the engine big (WebAssembly memory never shrinks) or broken; calls made on a
 * worker that is terminated reject with Cancelled.
 */
import type * as Comlink from 'comlink';
import type { CheckWorkerApi } from '../worker/check-api';
import { WorkerBridge } from './bridge';

const check = new WorkerBridge<CheckWorkerApi>(
  () => new Worker(new URL('../worker/check-worker.ts', import.meta.url), { type: 'module', name: 'caffe-fold-check' }),
);

/** Run one call on the check worker; rejects with Cancelled if it is terminated meanwhile. */
export function callCheck<R>(fn: (w: Comlink.Remote<CheckWorkerApi>) => R): Promise<Awaited<R>> {
  return check.call(fn);
}

export function terminateCheckWorker(): void {
  check.terminate();
}

/** Let the check worker end itself (no main-thread cost for its big WebAssembly memory); the next check starts a new one. */
export function closeCheckWorker(): void {
  void check.call((w) => w.close()).catch(() => {});
  check.terminate(true);
}
