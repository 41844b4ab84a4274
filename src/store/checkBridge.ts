/**
 * The whole-net check's worker: its own, apart from the fold worker (bridge.ts), created the first time a check
 * is run, so the 10.9 MB engine (OpenCV DNN in WebAssembly) is fetched and compiled only then. Terminated to cancel
 * a check, and after a check that left the engine big (WebAssembly memory never shrinks) or broken; calls made on a
 * worker that is terminated reject with Cancelled.
 */
import * as Comlink from 'comlink';
import type { CheckWorkerApi } from '../worker/check-api';
import { Cancelled } from './bridge';

let worker: Worker | undefined;
let remote: Comlink.Remote<CheckWorkerApi> | undefined;
const pending = new Set<(e: Error) => void>();

function api(): Comlink.Remote<CheckWorkerApi> {
  if (!remote) {
    worker = new Worker(new URL('../worker/check-worker.ts', import.meta.url), { type: 'module', name: 'caffe-fold-check' });
    remote = Comlink.wrap<CheckWorkerApi>(worker);
  }
  return remote;
}

/** Run one call on the check worker; rejects with Cancelled if it is terminated meanwhile. */
export function callCheck<R>(fn: (w: Comlink.Remote<CheckWorkerApi>) => R): Promise<Awaited<R>> {
  const w = api();
  return new Promise<Awaited<R>>((resolve, reject) => {
    pending.add(reject);
    Promise.resolve(fn(w)).then(
      (v) => {
        pending.delete(reject);
        resolve(v);
      },
      (e: unknown) => {
        pending.delete(reject);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export function checkWorkerRunning(): boolean {
  return worker !== undefined;
}

export function terminateCheckWorker(): void {
  if (worker) worker.terminate();
  worker = undefined;
  remote = undefined;
  for (const reject of pending) reject(new Cancelled());
  pending.clear();
}
