/** A worker that fails on its own must not leave its calls waiting forever. */
import { afterEach, describe, expect, it } from 'vitest';
import { Cancelled, WorkerBridge, type WorkerLike } from './bridge';
import { closeFakeWorkers, fakeWorker } from './fakeWorker.test-helper';

afterEach(closeFakeWorkers);

interface Api {
  never(): Promise<void>;
  ping(): Promise<string>;
}

const api: Api = { never: () => new Promise<void>(() => {}), ping: async () => 'pong' };

describe('WorkerBridge', () => {
  it('fails the calls of a worker that reports an error, and starts a new worker for the next call', async () => {
    const started: WorkerLike[] = [];
    const bridge = new WorkerBridge<Api>(() => {
      const w = fakeWorker(api);
      started.push(w);
      return w;
    });
    const waiting = bridge.call((w) => w.never());
    await expect(bridge.call((w) => w.ping())).resolves.toBe('pong');
    const generation = bridge.generation;
    (started[0] as unknown as EventTarget).dispatchEvent(
      Object.assign(new Event('error'), { message: 'Out of memory' }),
    );
    await expect(waiting).rejects.toMatchObject({
      code: 'worker-stopped',
      message: expect.stringContaining('Out of memory'),
    });
    expect(bridge.generation).toBe(generation + 1);
    await expect(bridge.call((w) => w.ping())).resolves.toBe('pong');
    expect(started).toHaveLength(2);
  });

  it('rejects with Cancelled when terminated', async () => {
    const bridge = new WorkerBridge<Api>(() => fakeWorker(api));
    const waiting = bridge.call((w) => w.never());
    bridge.terminate();
    await expect(waiting).rejects.toBeInstanceOf(Cancelled);
  });
});
