/**
 * The session against a fake fold worker: comlink over a MessageChannel, each "worker" with its own state, as a
 * real one would have. What is checked is what the store relies on: the model is given again to a worker that lost
 * it, a cancel rejects what was asked with Cancelled, and a stale load never becomes the model.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FileIn, Result } from '../worker/types';
import { Cancelled, type WorkerLike } from './bridge';
import { closeFakeWorkers, fakeWorker } from './fakeWorker.test-helper';
import { ModelSession } from './session';

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const refused = (what: string): Result<never> => ({
  ok: false,
  error: { code: 'internal', what, hint: '', message: what },
});

/** A promise resolved from outside, to hold a worker call until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}

/** One fake worker: keeps a model like the real one (api.ts), and drops it after a fold. */
class FakeWorker {
  loads: { prototxt: string; caffemodel?: string; reload: boolean }[] = [];
  model?: string;
  folded = false;
  /** Loads of these prototxt names wait for their gate. */
  holdLoad = new Map<string, Promise<void>>();
  holdFold?: Promise<void>;
  failLayout = false;
  lastPhaseSent = false;
  api = {
    detect: async (name: string) => ok(name.endsWith('.caffemodel') ? ('caffemodel' as const) : ('prototxt' as const)),
    load: async (p: FileIn, m: FileIn | undefined, reload: boolean) => {
      this.loads.push({ prototxt: p.name, caffemodel: m?.name, reload });
      await this.holdLoad.get(p.name);
      if (p.name.startsWith('bad')) return refused(`cannot read ${p.name}`);
      this.model = p.name;
      if (!reload) this.folded = false;
      return ok({ netName: p.name });
    },
    layout: async (side: string) =>
      this.failLayout && side === 'before'
        ? refused('no layout')
        : ok({ side, of: side === 'before' ? this.model : 'folded' }),
    layerDetails: async (side: string, name: string) => ok({ side, name, of: this.model }),
    chainDetails: async (id: string) =>
      this.model ? ok({ id, of: this.model }) : refused('no model is loaded in the worker'),
    fold: async (_opts: unknown, onPhase?: (p: string, d: number, t: number) => void) => {
      await onPhase?.('fold', 1, 2);
      await this.holdFold;
      // Sent on the progress callback's own channel: it can still arrive after the worker was ended.
      await onPhase?.('write', 2, 2);
      this.lastPhaseSent = true;
      this.folded = true;
      this.model = undefined;
      return ok({ report: 'r' });
    },
    takeOutputs: async () =>
      this.folded ? ok({ prototxt: { name: 'out.prototxt' } }) : refused('nothing has been folded yet'),
    hasModel: async () => this.model !== undefined,
  };
}

const started: FakeWorker[] = [];

function startFake(setup?: (w: FakeWorker) => void): () => WorkerLike {
  return () => {
    const fake = new FakeWorker();
    setup?.(fake);
    started.push(fake);
    return fakeWorker(fake.api);
  };
}

afterEach(() => {
  closeFakeWorkers();
  started.length = 0;
});

const file = (name: string) => new File(['x'], name);
const pair = (name: string) => ({ prototxt: file(`${name}.prototxt`), caffemodel: file(`${name}.caffemodel`) });
const noStep = () => {};

async function opened(s: ModelSession, name: string) {
  const r = await s.beginLoad().open(pair(name), false, noStep);
  expect(r.ok).toBe(true);
}

describe('ModelSession', () => {
  it('opens files: reads them in the worker and lays out their graph, telling each step', async () => {
    const s = new ModelSession(startFake());
    const steps: string[] = [];
    const r = await s.beginLoad().open(pair('a'), false, (x) => steps.push(x));
    expect(r).toEqual({
      ok: true,
      value: { summary: { netName: 'a.prototxt' }, layout: { side: 'before', of: 'a.prototxt' } },
    });
    expect(steps).toEqual(['Reading and parsing a.prototxt and a.caffemodel', 'Laying out the graph']);
    expect(started[0].loads).toEqual([{ prototxt: 'a.prototxt', caffemodel: 'a.caffemodel', reload: false }]);
  });

  it('after a fold, the next call gives the worker the model again from the kept Files, keeping the fold', async () => {
    const s = new ModelSession(startFake());
    await opened(s, 'a');
    const phases: string[] = [];
    const folded = await s.fold([], (p) => phases.push(p));
    expect(folded.ok && folded.value.outputs).toEqual({ prototxt: { name: 'out.prototxt' } });
    expect(phases).toEqual(['fold', 'write']);
    expect(await s.chainDetails('c1')).toEqual(ok({ id: 'c1', of: 'a.prototxt' }));
    expect(started).toHaveLength(1);
    expect(started[0].loads.map((l) => [l.prototxt, l.reload])).toEqual([
      ['a.prototxt', false],
      ['a.prototxt', true],
    ]);
    // The reload kept the worker's fold: the folded graph can still be laid out.
    expect(await s.layoutFolded()).toEqual(ok({ side: 'after', of: 'folded' }));
  });

  it('a model the worker holds is not loaded again', async () => {
    const s = new ModelSession(startFake());
    await opened(s, 'a');
    await s.layerDetails('before', 'conv1');
    await s.chainDetails('c1');
    expect(started[0].loads).toHaveLength(1);
  });

  it('a cancel rejects the call running and those waiting with Cancelled; the next call starts a worker and gives it the model', async () => {
    const hold = gate();
    const s = new ModelSession(startFake((w) => (w.holdFold = hold.opened)));
    await opened(s, 'a');
    const phases: string[] = [];
    const fold = s.fold([], (p) => phases.push(p));
    const details = s.layerDetails('before', 'conv1');
    await vi.waitFor(() => expect(phases).toEqual(['fold']));
    s.cancel();
    await expect(fold).rejects.toBeInstanceOf(Cancelled);
    await expect(details).rejects.toBeInstanceOf(Cancelled);
    expect(await s.layerDetails('before', 'conv1')).toEqual(ok({ side: 'before', name: 'conv1', of: 'a.prototxt' }));
    expect(started).toHaveLength(2);
    expect(started[1].loads.map((l) => l.prototxt)).toEqual(['a.prototxt']);
    hold.open();
  });

  it('progress from a cancelled fold is not passed on', async () => {
    const hold = gate();
    const s = new ModelSession(startFake((w) => (w.holdFold = hold.opened)));
    await opened(s, 'a');
    const phases: string[] = [];
    const fold = s.fold([], (p) => phases.push(p));
    await vi.waitFor(() => expect(phases).toEqual(['fold']));
    s.cancel();
    hold.open();
    await expect(fold).rejects.toBeInstanceOf(Cancelled);
    await vi.waitFor(() => expect(started[0].lastPhaseSent).toBe(true));
    expect(phases).toEqual(['fold']);
  });

  it('a stale load does not overwrite a newer one: it rejects with Cancelled, and the newer files are the model', async () => {
    const hold = gate();
    const s = new ModelSession(startFake((w) => w.holdLoad.set('slow.prototxt', hold.opened)));
    await opened(s, 'a');
    const slow = s.beginLoad().open(pair('slow'), false, noStep);
    await vi.waitFor(() => expect(started[0].loads).toHaveLength(2));
    const fast = s.beginLoad().open(pair('fast'), false, noStep);
    hold.open();
    await expect(slow).rejects.toBeInstanceOf(Cancelled);
    expect((await fast).ok).toBe(true);
    await s.fold([], () => {});
    expect(await s.chainDetails('c1')).toEqual(ok({ id: 'c1', of: 'fast.prototxt' }));
    expect(started[0].loads.map((l) => l.prototxt)).toEqual([
      'a.prototxt',
      'slow.prototxt',
      'fast.prototxt',
      'fast.prototxt',
    ]);
  });

  it('a load superseded while in the worker does not become the model, even when the newer one never gets there', async () => {
    const hold = gate();
    const s = new ModelSession(startFake((w) => w.holdLoad.set('b.prototxt', hold.opened)));
    await opened(s, 'a');
    const stale = s.beginLoad().open(pair('b'), false, noStep);
    await vi.waitFor(() => expect(started[0].loads).toHaveLength(2));
    s.beginLoad(); // files that are refused before they are loaded: the model on screen stays 'a'
    hold.open();
    await expect(stale).rejects.toBeInstanceOf(Cancelled);
    expect(await s.chainDetails('c1')).toEqual(ok({ id: 'c1', of: 'a.prototxt' }));
  });

  it('a load superseded before its turn is not run at all', async () => {
    const hold = gate();
    const s = new ModelSession(startFake((w) => (w.holdFold = hold.opened)));
    await opened(s, 'a');
    const fold = s.fold([], () => {});
    const first = s.beginLoad().open(pair('b'), false, noStep);
    const second = s.beginLoad().open(pair('c'), false, noStep);
    hold.open();
    await fold;
    await expect(first).rejects.toBeInstanceOf(Cancelled);
    expect((await second).ok).toBe(true);
    expect(started[0].loads.map((l) => l.prototxt)).toEqual(['a.prototxt', 'c.prototxt']);
  });

  it('detect of a stale load rejects with Cancelled', async () => {
    const s = new ModelSession(startFake());
    const old = s.beginLoad();
    const detected = old.detect(file('x.caffemodel'));
    s.beginLoad();
    await expect(detected).rejects.toBeInstanceOf(Cancelled);
    expect(await s.beginLoad().detect(file('y.caffemodel'))).toEqual(ok('caffemodel'));
  });

  it('files that load but cannot be laid out do not become the model: the worker is given the model on screen again', async () => {
    const s = new ModelSession(startFake());
    await opened(s, 'a');
    started[0].failLayout = true;
    const r = await s.beginLoad().open(pair('b'), false, noStep);
    expect(r.ok).toBe(false);
    expect(await s.chainDetails('c1')).toEqual(ok({ id: 'c1', of: 'a.prototxt' }));
    expect(started[0].loads.map((l) => [l.prototxt, l.reload])).toEqual([
      ['a.prototxt', false],
      ['b.prototxt', false],
      ['a.prototxt', false],
    ]);
  });

  it('files that fail to load leave the model as it was', async () => {
    const s = new ModelSession(startFake());
    await opened(s, 'a');
    const r = await s.beginLoad().open(pair('bad'), false, noStep);
    expect(r).toMatchObject({ ok: false, error: { what: 'cannot read bad.prototxt' } });
    expect(await s.chainDetails('c1')).toEqual(ok({ id: 'c1', of: 'a.prototxt' }));
    expect(started[0].loads).toHaveLength(2);
  });

  it('close forgets the model and supersedes the load in progress', async () => {
    const hold = gate();
    const s = new ModelSession(startFake((w) => w.holdLoad.set('b.prototxt', hold.opened)));
    await opened(s, 'a');
    const load = s.beginLoad().open(pair('b'), false, noStep);
    await vi.waitFor(() => expect(started[0].loads).toHaveLength(2));
    s.close();
    hold.open();
    await expect(load).rejects.toBeInstanceOf(Cancelled);
    await expect(s.chainDetails('c1')).rejects.toThrow('no model is loaded');
  });
});
