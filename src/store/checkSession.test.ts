/** The check session against a fake check worker (comlink over a MessageChannel): one check at a time, spent workers ended. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Result } from '../worker/types';
import { Cancelled, type WorkerLike } from './bridge';
import { closeFakeWorkers, fakeWorker } from './fakeWorker.test-helper';
import { CheckSession } from './checkSession';

const MB = 2 ** 20;

class FakeCheckWorker {
  hold?: Promise<void>;
  heapBytes = 64 * MB;
  result: Result<unknown> = { ok: true, value: { status: 'equal' } };
  crash = false;
  closed = false;
  lastStepSent = false;
  states = 0;
  checks = 0;
  api = {
    check: async (
      _o: unknown,
      _f: unknown,
      _opts: unknown,
      onProgress?: (step: string, done: number, total: number) => void,
    ) => {
      this.checks++;
      await onProgress?.('Loading the engine', 0, 1);
      await this.hold;
      // Sent on the progress callback's own channel: it can still arrive after the worker was ended.
      await onProgress?.('Running', 1, 1);
      this.lastStepSent = true;
      if (this.crash) throw new Error('memory access out of bounds');
      return this.result;
    },
    state: async () => {
      this.states++;
      return { heapBytes: this.heapBytes };
    },
    close: () => {
      this.closed = true;
    },
  };
}

const started: FakeCheckWorker[] = [];

function startFake(setup?: (w: FakeCheckWorker, n: number) => void): () => WorkerLike {
  return () => {
    const fake = new FakeCheckWorker();
    setup?.(fake, started.length);
    started.push(fake);
    return fakeWorker(fake.api);
  };
}

afterEach(() => {
  closeFakeWorkers();
  started.length = 0;
});

const pairIn = (name: string) => ({
  prototxt: { name: `${name}.prototxt`, file: new Blob(['p']) },
  caffemodel: { name: `${name}.caffemodel`, file: new Blob(['m']) },
});
const run = (s: CheckSession, onProgress: (step: string) => void = () => {}, whenIdle = false) =>
  s.run(pairIn('a'), pairIn('b'), { seed: 1, whenIdle }, onProgress);

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

describe('CheckSession', () => {
  it('runs a check, tells its steps, and keeps a worker whose engine stayed small for the next check', async () => {
    const s = new CheckSession(startFake());
    const steps: string[] = [];
    const r = await run(s, (step) => steps.push(step));
    expect(r.result).toEqual({ ok: true, value: { status: 'equal' } });
    expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(steps).toEqual(['Loading the engine', 'Running']);
    await vi.waitFor(() => expect(started[0].states).toBe(1));
    expect(started[0].closed).toBe(false);
    await run(s);
    expect(started).toHaveLength(1);
    expect(started[0].checks).toBe(2);
  });

  it('a worker whose engine grew big, or whose check failed, ends itself; the next check starts a new one', async () => {
    const s = new CheckSession(
      startFake((w, n) =>
        n === 0
          ? (w.heapBytes = 900 * MB)
          : (w.result = { ok: false, error: { code: 'internal', what: 'w', hint: 'h', message: 'm' } }),
      ),
    );
    await run(s);
    await vi.waitFor(() => expect(started[0].closed).toBe(true));
    expect((await run(s)).result.ok).toBe(false);
    await vi.waitFor(() => expect(started[1].closed).toBe(true));
    await run(s);
    expect(started).toHaveLength(3);
  });

  it('abandon rejects the check with Cancelled and passes no more of its progress', async () => {
    const hold = gate();
    const s = new CheckSession(startFake((w) => (w.hold = hold.opened)));
    const steps: string[] = [];
    const check = run(s, (step) => steps.push(step));
    await vi.waitFor(() => expect(steps).toHaveLength(1));
    s.abandon();
    hold.open();
    await expect(check).rejects.toBeInstanceOf(Cancelled);
    await vi.waitFor(() => expect(started[0].lastStepSent).toBe(true));
    expect(steps).toEqual(['Loading the engine']);
  });

  it('a new check replaces the one running: that one is Cancelled, its worker ended', async () => {
    const hold = gate();
    const s = new CheckSession(startFake((w, n) => n === 0 && (w.hold = hold.opened)));
    const first = run(s);
    await vi.waitFor(() => expect(started[0]?.checks).toBe(1));
    const second = run(s);
    await expect(first).rejects.toBeInstanceOf(Cancelled);
    expect((await second).result.ok).toBe(true);
    expect(started).toHaveLength(2);
    hold.open();
  });

  it('a worker that fails rejects with its error and is ended; the next check starts a new one', async () => {
    const s = new CheckSession(startFake((w, n) => (w.crash = n === 0)));
    await expect(run(s)).rejects.toThrow('memory access out of bounds');
    expect((await run(s)).result.ok).toBe(true);
    expect(started).toHaveLength(2);
  });

  it('a check waiting for an idle main thread, abandoned meanwhile, never starts a worker', async () => {
    const s = new CheckSession(startFake());
    const check = run(s, () => {}, true);
    s.abandon();
    await expect(check).rejects.toBeInstanceOf(Cancelled);
    expect(started).toHaveLength(0);
  });
});
