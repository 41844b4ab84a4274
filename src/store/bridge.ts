/**
 * A worker behind comlink, created lazily and terminated on cancel (squoosh's worker-bridge idea). Calls made on a
 * worker that is then terminated reject with `Cancelled` instead of hanging forever. The sessions (session.ts,
 * checkSession.ts) build on it; the store talks only to them.
 */
import * as Comlink from 'comlink';
import { caffeError } from '../core/errors';

export class Cancelled extends Error {
  override name = 'Cancelled';
  constructor() {
    super('cancelled');
  }
}

/** What a bridge starts: a Worker, or in tests one end of a MessageChannel. */
export type WorkerLike = Comlink.Endpoint & { terminate(): void };

/** One worker behind comlink: started at the first call, ended by terminate(). */
export class WorkerBridge<Api> {
  private worker: WorkerLike | undefined;
  private remote: Comlink.Remote<Api> | undefined;
  private readonly pending = new Set<(e: Error) => void>();
  /** The worker's identity: changes whenever it is terminated, so callers know its state is gone. */
  generation = 0;

  constructor(private readonly start: () => WorkerLike) {}

  /** Run one call on the worker; rejects with Cancelled if the worker is terminated meanwhile. */
  call<R>(fn: (w: Comlink.Remote<Api>) => R): Promise<Awaited<R>> {
    if (!this.remote) {
      const worker = this.start();
      // A worker that fails on its own (its script did not load, an uncaught error, out of memory) answers no
      // call: its calls would wait forever. It is ended, and its calls fail with the reason.
      worker.addEventListener('error', (e) => {
        if (this.worker === worker) this.end(caffeError('worker-stopped', { reason: errorEventMessage(e) }));
      });
      this.worker = worker;
      this.remote = Comlink.wrap<Api>(worker);
    }
    const w = this.remote;
    return new Promise<Awaited<R>>((resolve, reject) => {
      this.pending.add(reject);
      Promise.resolve(fn(w)).then(
        (v) => {
          this.pending.delete(reject);
          resolve(v);
        },
        (e: unknown) => {
          this.pending.delete(reject);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  }

  /** Some call has not answered yet. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** End the worker from the page. `ended: true`: it is ending itself (see the check worker's close). */
  terminate(ended = false): void {
    this.end(new Cancelled(), ended);
  }

  /** End the worker; its pending calls reject with `error`. */
  private end(error: Error, ended = false): void {
    if (this.worker && !ended) this.worker.terminate();
    this.worker = undefined;
    this.remote = undefined;
    this.generation++;
    for (const reject of this.pending) reject(error);
    this.pending.clear();
  }
}

function errorEventMessage(e: unknown): string {
  const message = (e as { message?: unknown }).message;
  return typeof message === 'string' && message ? message : 'it ended without saying why';
}
