/**
 * The check slice: the whole-net check of a fold (issue 10). After a fold, the original pair (the user's Files)
 * and the folded pair (the fold's outputs) run in OpenCV DNN in WebAssembly, in a worker of its own
 * (checkSession.ts), on the same seeded input; every net output is compared. It starts on its own for models up to
 * AUTO_CHECK_MAX_BYTES; bigger ones wait for the user's "Check the whole net".
 */
import { formatBytes } from '../core/display';
import type { WholeNetCheck } from '../core/check/types';
import type { PlainError } from '../worker/types';
import { Cancelled } from './bridge';
import { checks } from './checkSession';
import { fail } from './errors';
import type { AppState, GetState, SetState, Slice } from './store';

/**
 * Checks start on their own when the caffemodel is at most this big: 120 MB (as the page counts, 1024² bytes)
 * covers ResNet-50 (97.7 MB). The engine holds both nets at once, about twice the weights; bigger models are
 * checked on request.
 */
export const AUTO_CHECK_MAX_BYTES = 120 * 2 ** 20;
/** The engine refuses bigger models (a quarter of its 1 GiB of WebAssembly memory: check-engine.ts's MAX_MODEL_BYTES). */
export const ENGINE_MAX_MODEL_BYTES = 256 * 2 ** 20;
/** The seed of the check's input, and how many timed runs each net gets. */
const CHECK_SEED = 1;
const TIMING_RUNS = 3;

export type CheckStatus = 'idle' | 'running' | 'done' | 'failed' | 'cancelled' | 'waiting';

export interface CheckState {
  /**
   * idle: nothing to check; waiting: a fold to check, not started on its own (see note); running; done (result:
   * equal, different, or not-run with its reason); failed (error); cancelled by the user.
   */
  status: CheckStatus;
  step?: string;
  done: number;
  total: number;
  result?: WholeNetCheck;
  error?: PlainError;
  /** Why a check did not start on its own. */
  note?: string;
  /** The model is too big for the engine: no check can be run in the page. */
  tooBig?: boolean;
  /** Wall time of the whole check, engine load included. */
  ms?: number;
}

export interface NamedFile {
  name: string;
  file: Blob;
}

export interface CheckPair {
  prototxt: NamedFile;
  caffemodel: NamedFile;
}

export interface CheckSlice {
  check: CheckState;
  /** Check the current fold (after one: the user's files against the fold's outputs). */
  runCheck: (opts?: { whenIdle?: boolean }) => Promise<void>;
  /** Check any original pair against any folded pair; whenIdle: start once the main thread is idle. */
  runCheckOf: (original: CheckPair, folded: CheckPair, opts?: { whenIdle?: boolean }) => Promise<void>;
  cancelCheck: () => void;
  /** What the fold's end does with the check: start it (small models), or leave it waiting with why. */
  checkAfterFold: () => void;
  /** No check now: `note` says why (tooBig: none can be run in the page). */
  setCheckWaiting: (note: string, tooBig?: boolean) => void;
  /** Stop the check, if running, and forget its result: what it checked is gone. */
  resetCheck: () => void;
}

export const IDLE_CHECK: CheckState = { status: 'idle', done: 0, total: 0 };

/** The pairs the current fold's check compares, or why there are none. */
export function foldPairs(s: AppState): { original: CheckPair; folded: CheckPair } | { why: string } {
  const r = s.result;
  const { prototxt, caffemodel } = s.files;
  if (!r) return { why: 'nothing has been folded yet' };
  if (!prototxt || !caffemodel || !r.caffemodel)
    return { why: 'the model has no weights (.caffemodel): there is nothing to run' };
  return {
    original: {
      prototxt: { name: prototxt.name, file: prototxt },
      caffemodel: { name: caffemodel.name, file: caffemodel },
    },
    folded: {
      prototxt: { name: r.prototxt.name, file: r.prototxt.blob },
      caffemodel: { name: r.caffemodel.name, file: r.caffemodel.blob },
    },
  };
}

function checkAfterFold(get: GetState): void {
  const s = get();
  const pairs = foldPairs(s);
  if ('why' in pairs) return s.setCheckWaiting(`Not run: ${pairs.why}.`);
  const size = Math.max(pairs.original.caffemodel.file.size, pairs.folded.caffemodel.file.size);
  if (size > ENGINE_MAX_MODEL_BYTES) {
    return s.setCheckWaiting(
      `Not run: the caffemodel is ${formatBytes(size)}; OpenCV in WebAssembly checks models up to ${formatBytes(ENGINE_MAX_MODEL_BYTES)} (its memory is limited to 1 GB). Check it with the command line's --verify.`,
      true,
    );
  }
  if (size > AUTO_CHECK_MAX_BYTES) {
    return s.setCheckWaiting(
      `Not run yet: the caffemodel is ${formatBytes(size)}; the check starts on its own up to ${formatBytes(AUTO_CHECK_MAX_BYTES)}. It runs both nets in your browser and needs about ${formatBytes(4 * size)} of memory.`,
    );
  }
  void s.runCheck({ whenIdle: true });
}

async function runCheckOf(
  set: SetState,
  get: GetState,
  original: CheckPair,
  folded: CheckPair,
  opts?: { whenIdle?: boolean },
): Promise<void> {
  set({ check: { status: 'running', step: 'Starting the engine', done: 0, total: 1 } });
  const onProgress = (step: string, done: number, total: number) => {
    if (get().check.status === 'running') set({ check: { status: 'running', step, done, total } });
  };
  try {
    const { result: r, ms } = await checks.run(
      original,
      folded,
      { seed: CHECK_SEED, timingRuns: TIMING_RUNS, whenIdle: opts?.whenIdle },
      onProgress,
    );
    set({
      check: r.ok
        ? { status: 'done', done: 1, total: 1, result: r.value, ms }
        : { ...IDLE_CHECK, status: 'failed', error: r.error, ms },
    });
  } catch (e) {
    if (e instanceof Cancelled) return;
    const m = e instanceof Error ? e.message : String(e);
    set({ check: { ...IDLE_CHECK, status: 'failed', error: fail('check-worker-stopped', { reason: m }) } });
  }
}

export const createCheckSlice: Slice<CheckSlice> = (set, get) => ({
  check: IDLE_CHECK,
  async runCheck(opts) {
    const pairs = foldPairs(get());
    if ('why' in pairs) return get().setCheckWaiting(`Not run: ${pairs.why}.`);
    await get().runCheckOf(pairs.original, pairs.folded, opts);
  },
  runCheckOf: (original, folded, opts) => runCheckOf(set, get, original, folded, opts),
  cancelCheck() {
    checks.abandon();
    if (get().check.status === 'running') set({ check: { ...IDLE_CHECK, status: 'cancelled' } });
  },
  checkAfterFold: () => checkAfterFold(get),
  setCheckWaiting: (note, tooBig) =>
    set({ check: { ...IDLE_CHECK, status: 'waiting', note, ...(tooBig ? { tooBig } : {}) } }),
  resetCheck() {
    checks.abandon();
    set({ check: IDLE_CHECK });
  },
});
