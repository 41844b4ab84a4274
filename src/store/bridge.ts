/**
 * One worker, created lazily, terminated on cancel (squoosh's worker-bridge idea). Calls made on a worker that
 * is then terminated reject with `Cancelled` instead of hanging forever.
 */
import * as Comlink from 'comlink';
import type { WorkerApi } from '../worker/api';

export class Cancelled extends Error {
  override name = 'Cancelled';
  constructor() {
    super('cancelled');
  }
}

let worker: Worker | undefined;
let remote: Comlink.Remote<WorkerApi> | undefined;
let generation = 0;
const pending = new Set<(e: Error) => void>();

function api(): Comlink.Remote<WorkerApi> {
  if (!remote) {
    worker = new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module', name: 'caffe-fold' });
    remote = Comlink.wrap<WorkerApi>(worker);
  }
  return remote;
}

/** Run one call on the worker; rejects with Cancelled if the worker is terminated meanwhile. */
export function call<R>(fn: (w: Comlink.Remote<WorkerApi>) => R): Promise<Awaited<R>> {
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

/** The worker's identity: changes whenever it is terminated, so callers know its state is gone. */
export function workerGeneration(): number {
  return generation;
}

export function terminateWorker(): void {
  if (worker) worker.terminate();
  worker = undefined;
  remote = undefined;
  generation++;
  for (const reject of pending) reject(new Cancelled());
  pending.clear();
}

export { Comlink };
