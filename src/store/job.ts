/** The job slice: the fold, its choices (the chains kept as they are), its progress, its result and the downloads. */
import { stripExtension, zipName } from '../core/display';
import type { FoldOutputs, FoldPhase, FoldSummary } from '../worker/types';
import { Cancelled } from './bridge';
import { saveBlob } from './download';
import { asPlain, unwrap } from './errors';
import { skipKeyOf } from './selectors';
import { session } from './session';
import type { GetState, SetState, Slice } from './store';
import { zipBlobs } from './zip';

export interface JobState {
  status: 'idle' | 'running' | 'done' | 'cancelled' | 'failed';
  phase?: FoldPhase;
  done: number;
  total: number;
}

export interface FoldOutputBlobs extends FoldOutputs {
  summary: FoldSummary;
  /** The skip list the result was made with. */
  skipKey: string;
}

export interface JobSlice {
  /** Chains the user chose to leave as they are. */
  skip: Record<string, true>;
  job: JobState;
  result?: FoldOutputBlobs;
  zipping: boolean;
  toggleSkip: (chainId: string) => void;
  fold: () => Promise<void>;
  cancel: () => void;
  download: (what: 'prototxt' | 'caffemodel' | 'zip') => Promise<void>;
  /** No fold, no result, every chain folded: where a new model starts. */
  resetJob: () => void;
}

const IDLE_JOB: JobState = { status: 'idle', done: 0, total: 0 };

async function fold(set: SetState, get: GetState): Promise<void> {
  if (get().job.status === 'running' || !get().files.prototxt) return;
  const skip = Object.keys(get().skip);
  // The previous fold's check, result and folded graph are about to be replaced.
  get().resetCheck();
  void get().setSide('before');
  get().setFoldedLayout(undefined);
  get().setError(undefined);
  set({ job: { status: 'running', phase: 'parse', done: 0, total: 1 }, result: undefined });
  try {
    const onPhase = (phase: FoldPhase, done: number, total: number) => {
      if (get().job.status === 'running') set({ job: { status: 'running', phase, done, total } });
    };
    const { summary, outputs } = unwrap(await session.fold(skip, onPhase));
    // The folded graph is laid out before the result is shown, so the view switches once, to a ready graph.
    const after = await session.layoutFolded();
    set({
      job: { status: 'done', done: 1, total: 1 },
      result: { summary, ...outputs, skipKey: skipKeyOf(Object.fromEntries(skip.map((k) => [k, true as const]))) },
    });
    if (after.ok) get().setFoldedLayout(after.value);
    else get().setError(after.error);
    get().select(undefined);
    // The report and the folded graph are drawn in two tasks, so neither holds the main thread for long.
    if (after.ok) {
      await new Promise((r) => setTimeout(r, 0));
      // Not awaited: the check's first update below must join React's one render of the folded graph, not come
      // after it as a second render in the same task (a 340–390 ms task at the end of ResNet-50's fold).
      if (get().result?.summary === summary) void get().setSide('after');
    }
    // The whole-net check: started on its own for models up to AUTO_CHECK_MAX_BYTES (check.ts).
    if (get().result?.summary === summary) get().checkAfterFold();
  } catch (e) {
    if (e instanceof Cancelled) return;
    set({ job: { ...get().job, status: 'failed' } });
    get().setError(asPlain(e));
  }
}

async function download(set: SetState, get: GetState, what: 'prototxt' | 'caffemodel' | 'zip'): Promise<void> {
  const r = get().result;
  if (!r) return;
  if (what === 'prototxt') return saveBlob(r.prototxt.blob, r.prototxt.name);
  if (what === 'caffemodel') {
    if (r.caffemodel) saveBlob(r.caffemodel.blob, r.caffemodel.name);
    return;
  }
  set({ zipping: true });
  try {
    const entries = [{ name: r.prototxt.name, blob: r.prototxt.blob }];
    if (r.caffemodel) entries.push({ name: r.caffemodel.name, blob: r.caffemodel.blob });
    const zip = await zipBlobs(entries);
    saveBlob(zip, zipName(r.prototxt.name || `${stripExtension(r.prototxt.name)}.prototxt`));
  } catch (e) {
    get().setError(asPlain(e));
  } finally {
    set({ zipping: false });
  }
}

export const createJobSlice: Slice<JobSlice> = (set, get) => ({
  skip: {},
  job: IDLE_JOB,
  zipping: false,
  toggleSkip(chainId) {
    set((s) => {
      const skip = { ...s.skip };
      if (skip[chainId]) delete skip[chainId];
      else skip[chainId] = true;
      return { skip };
    });
  },
  fold: () => fold(set, get),
  cancel() {
    if (get().job.status !== 'running') return;
    session.cancel();
    set({ job: { status: 'cancelled', done: 0, total: 0 } });
  },
  download: (what) => download(set, get, what),
  resetJob: () => set({ result: undefined, job: IDLE_JOB, skip: {} }),
});
