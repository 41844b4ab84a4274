/**
 * The app's one store, made of typed slices (zustand's slices pattern): model (files, load, graphs),
 * view (which graph, selection, details, search) and job (fold options, progress, results, downloads).
 * Derived data lives in selectors (selectors.ts), not here.
 */
import { create, type StateCreator } from 'zustand';
import { MAX_FILE_BYTES, stripExtension, zipName } from '../core/display';
import type {
  ChainDetails,
  FoldPhase,
  FoldSummary,
  GraphLayout,
  GraphSide,
  LayerDetails,
  LoadSummary,
  PlainError,
  Result,
} from '../worker/types';
import { Cancelled, Comlink, call, terminateWorker, workerGeneration } from './bridge';
import { saveBlob } from './download';
import { zipBlobs } from './zip';
import { IDLE_CHECK, abandonCheck, checkAfterFold, createCheckSlice, type CheckSlice } from './check';
import { createCompareSlice, type CompareSlice } from './compare';

export type Selection = { kind: 'layer'; name: string } | { kind: 'chain'; id: string };

export interface ModelSlice {
  /** The user's files: cheap handles, kept so the worker can be fed again after a cancel. */
  files: { prototxt?: File; caffemodel?: File };
  loadStatus: 'empty' | 'loading' | 'ready';
  /** Short text of what is being done while loading, e.g. "Reading resnet50.caffemodel". */
  loadStep?: string;
  summary?: LoadSummary;
  layouts: Partial<Record<GraphSide, GraphLayout>>;
  error?: PlainError;
  notice?: string;
  /** The files are loaded although some layers have no weights (the user chose "Load anyway"). */
  allowMissingWeights: boolean;
  /** Files refused only because layers lack weights: "Load anyway" loads them. */
  pending?: { prototxt: File; caffemodel?: File };
  openFiles: (files: File[]) => Promise<void>;
  /** Load the pending files, layers without weights and all. */
  loadAnyway: () => Promise<void>;
  loadSample: () => Promise<void>;
  dismissError: () => void;
  closeModel: () => void;
}

export interface ViewSlice {
  side: GraphSide;
  selection?: Selection;
  details?: { key: string; value?: LayerDetails | ChainDetails; error?: PlainError };
  /** Bumped to ask the graph to centre a node. */
  focus?: { nodeId: string; seq: number };
  setSide: (side: GraphSide) => Promise<void>;
  select: (sel: Selection | undefined) => void;
  focusNode: (nodeId: string) => void;
}

export interface JobState {
  status: 'idle' | 'running' | 'done' | 'cancelled' | 'failed';
  phase?: FoldPhase;
  done: number;
  total: number;
}

export interface FoldOutputBlobs {
  summary: FoldSummary;
  prototxt: { name: string; blob: Blob };
  caffemodel?: { name: string; blob: Blob };
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
}

export type AppState = ModelSlice & ViewSlice & JobSlice & CheckSlice & CompareSlice;
type Slice<T> = StateCreator<AppState, [], [], T>;

const HEAD_BYTES = 64 * 1024;
const IDLE_JOB: JobState = { status: 'idle', done: 0, total: 0 };

/** Which worker generation holds the current files; -1 when none. */
let loadedIn = -1;
let loadSeq = 0;

const fail = (what: string, hint: string, code = 'app', file?: string): PlainError => ({
  code,
  what,
  hint,
  message: `${what} — ${hint}`,
  where: file ? { kind: 'file', file } : undefined,
  whereText: file,
});

function unwrap<T>(r: Result<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

function isPlainError(e: unknown): e is PlainError {
  return typeof e === 'object' && e !== null && 'code' in e && 'what' in e && 'hint' in e;
}

function asPlain(e: unknown): PlainError {
  if (isPlainError(e)) return e;
  const m = e instanceof Error ? e.message : String(e);
  return fail(`Something went wrong: ${m}`, 'Reload the page and try again; if it happens again, please report it.', 'internal');
}

/**
 * What belongs to the model on screen and starts over with another one: the view, the fold and its choices, and
 * the fold's check (a running one is stopped).
 */
const freshModelView = (): Pick<AppState, 'selection' | 'details' | 'side' | 'result' | 'job' | 'skip' | 'check'> => {
  abandonCheck();
  return { selection: undefined, details: undefined, side: 'before', result: undefined, job: IDLE_JOB, skip: {}, check: IDLE_CHECK };
};

export const skipKeyOf = (skip: Record<string, true>) => Object.keys(skip).sort().join('\n');

/** Send the kept File objects to the worker (again, after a cancel). */
async function feedWorker(files: ModelSlice['files'], onStep?: (s: string) => void, reload = false, allowMissingWeights = false): Promise<LoadSummary> {
  const p = files.prototxt!;
  const m = files.caffemodel;
  onStep?.(`Reading and parsing ${p.name}${m ? ` and ${m.name}` : ''}`);
  const summary = unwrap(await call((w) => w.load({ name: p.name, file: p }, m ? { name: m.name, file: m } : undefined, reload, { allowMissingWeights })));
  loadedIn = workerGeneration();
  return summary;
}

/** Make sure the worker holds the model (it does not after a cancel or after its input was handed out). */
async function ensureLoaded(get: () => AppState): Promise<void> {
  if (loadedIn === workerGeneration()) {
    const has = await call((w) => w.hasModel());
    if (has) return;
  }
  await feedWorker(get().files, undefined, true, get().allowMissingWeights);
}

type SetState = Parameters<Slice<ModelSlice>>[0];

/** Load a prototxt (+ caffemodel) in the worker and lay it out; the model on screen stays until this succeeds. */
async function openModel(set: SetState, get: () => AppState, files: ModelSlice['files'], seq: number, allowMissingWeights: boolean): Promise<void> {
  if (get().job.status === 'running') get().cancel();
  // The model on screen stays in the store (and in the worker) until the new files have loaded: files that
  // fail to load bring it back, with the error panel.
  set({ loadStatus: 'loading', loadStep: 'Reading files' });
  const summary = await feedWorker(files, (s) => seq === loadSeq && set({ loadStep: s }), false, allowMissingWeights);
  if (seq !== loadSeq) return;
  set({ loadStep: 'Laying out the graph' });
  const layout = unwrap(await call((w) => w.layout('before')));
  if (seq !== loadSeq) return;
  set({ ...freshModelView(), files, allowMissingWeights, summary, layouts: { before: layout }, loadStatus: 'ready', loadStep: undefined });
}

/** A load that failed: the error panel, the model on screen (if any) kept; files refused only for lack of weights wait for "Load anyway". */
function failedLoad(set: SetState, e: unknown, files?: ModelSlice['files']): void {
  const error = asPlain(e);
  const pending = error.code === 'pair-missing-weights' && files?.prototxt ? { prototxt: files.prototxt, caffemodel: files.caffemodel } : undefined;
  set((s) => ({ error, pending, loadStatus: s.summary && s.layouts.before ? 'ready' : 'empty', loadStep: undefined }));
}

const createModelSlice: Slice<ModelSlice> = (set, get) => ({
  files: {},
  loadStatus: 'empty',
  layouts: {},
  allowMissingWeights: false,
  async openFiles(dropped) {
    if (dropped.length === 0) return;
    const seq = ++loadSeq;
    set({ error: undefined, notice: undefined, pending: undefined });
    let files: ModelSlice['files'] | undefined;
    try {
      if (dropped.length > 2) throw fail(`${dropped.length} files were given; caffe-fold takes one .prototxt and optionally its .caffemodel.`, 'Open the network description (.prototxt) and, if you want the weights folded too, its .caffemodel.');
      const kinds: { file: File; kind: 'prototxt' | 'caffemodel' }[] = [];
      for (const file of dropped) {
        if (file.size === 0) throw fail(`"${file.name}" is empty.`, 'The download or copy may have failed: get the file again.', 'file-empty', file.name);
        if (file.size > MAX_FILE_BYTES) {
          throw fail(`"${file.name}" is ${(file.size / 2 ** 30).toFixed(2)} GB; caffe-fold reads files up to 2 GB.`, 'Caffe itself cannot read protobuf messages over 2 GB either: check the file.', 'file-too-large', file.name);
        }
        const head = await file.slice(0, HEAD_BYTES).arrayBuffer();
        const r = await call((w) => w.detect(file.name, Comlink.transfer(head, [head])));
        if (!r.ok) throw { ...r.error, where: r.error.where ?? { kind: 'file', file: file.name }, whereText: r.error.whereText ?? file.name };
        kinds.push({ file, kind: r.value });
      }
      const protos = kinds.filter((k) => k.kind === 'prototxt');
      const models = kinds.filter((k) => k.kind === 'caffemodel');
      if (protos.length > 1) throw fail('Both files are network descriptions (.prototxt).', 'Open one .prototxt together with its .caffemodel (the binary weights).', 'two-prototxt');
      if (models.length > 1) throw fail('Both files are weights (.caffemodel).', 'Open one .caffemodel together with the .prototxt that describes its network.', 'two-caffemodel');
      if (protos.length) files = { prototxt: protos[0].file, caffemodel: models[0]?.file };
      else if (get().files.prototxt) files = { prototxt: get().files.prototxt, caffemodel: models[0].file };
      else {
        set({ files: { caffemodel: models[0].file }, notice: `${models[0].file.name} holds weights only. Now add the .prototxt that describes its network.` });
        return;
      }
      await openModel(set, get, files, seq, false);
    } catch (e) {
      if (seq !== loadSeq || e instanceof Cancelled) return;
      failedLoad(set, e, files);
    }
  },
  async loadAnyway() {
    const files = get().pending;
    if (!files) return;
    const seq = ++loadSeq;
    set({ error: undefined, notice: undefined, pending: undefined });
    try {
      await openModel(set, get, files, seq, true);
    } catch (e) {
      if (seq !== loadSeq || e instanceof Cancelled) return;
      failedLoad(set, e, files);
    }
  },
  async loadSample() {
    set({ error: undefined, notice: undefined });
    try {
      const get1 = async (name: string) => {
        const res = await fetch(`./sample/${name}`);
        if (!res.ok) throw fail(`The bundled sample "${name}" could not be loaded (HTTP ${res.status}).`, 'This build has no sample model; open your own files instead.', 'sample-missing');
        return new File([await res.blob()], name);
      };
      const files = await Promise.all([get1('sample.prototxt'), get1('sample.caffemodel')]);
      await get().openFiles(files);
    } catch (e) {
      set({ error: asPlain(e) });
    }
  },
  dismissError: () => set({ error: undefined, notice: undefined, pending: undefined }),
  closeModel() {
    loadSeq++;
    terminateWorker();
    set({ ...freshModelView(), files: {}, allowMissingWeights: false, pending: undefined, loadStatus: 'empty', summary: undefined, layouts: {}, error: undefined, notice: undefined });
  },
});

let detailsSeq = 0;

const createViewSlice: Slice<ViewSlice> = (set, get) => ({
  side: 'before',
  async setSide(side) {
    if (side === get().side) return;
    if (side === 'after' && !get().layouts.after) {
      if (!get().result) return;
      try {
        const layout = unwrap(await call((w) => w.layout('after')));
        set((s) => ({ layouts: { ...s.layouts, after: layout } }));
      } catch (e) {
        if (!(e instanceof Cancelled)) set({ error: asPlain(e) });
        return;
      }
    }
    set({ side, selection: undefined, details: undefined });
  },
  select(sel) {
    const seq = ++detailsSeq;
    if (!sel) {
      set({ selection: undefined, details: undefined });
      return;
    }
    const key = sel.kind === 'layer' ? `layer:${sel.name}` : `chain:${sel.id}`;
    set({ selection: sel, details: { key } });
    const side = get().side;
    void (async () => {
      try {
        // The folded graph's details need only the folded text the worker keeps; the loaded model's need the model.
        if (side === 'before' || sel.kind === 'chain') await ensureLoaded(get);
        const r = sel.kind === 'layer' ? await call((w) => w.layerDetails(side, sel.name)) : await call((w) => w.chainDetails(sel.id));
        if (seq !== detailsSeq) return;
        set({ details: r.ok ? { key, value: r.value } : { key, error: r.error } });
      } catch (e) {
        if (seq !== detailsSeq || e instanceof Cancelled) return;
        set({ details: { key, error: asPlain(e) } });
      }
    })();
  },
  focusNode: (nodeId) => set((s) => ({ focus: { nodeId, seq: (s.focus?.seq ?? 0) + 1 } })),
});

const createJobSlice: Slice<JobSlice> = (set, get) => ({
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
  async fold() {
    if (get().job.status === 'running' || !get().files.prototxt) return;
    const skip = Object.keys(get().skip);
    // The check of the previous fold is stopped: its folded file is about to be replaced.
    abandonCheck();
    set((s) => ({ job: { status: 'running', phase: 'parse', done: 0, total: 1 }, error: undefined, result: undefined, side: 'before', layouts: { before: s.layouts.before }, check: IDLE_CHECK }));
    try {
      await ensureLoaded(get);
      const onPhase = Comlink.proxy((phase: FoldPhase, done: number, total: number) => {
        if (get().job.status === 'running') set({ job: { status: 'running', phase, done, total } });
      });
      const summary = unwrap(await call((w) => w.fold({ skip }, onPhase)));
      const out = unwrap(await call((w) => w.takeOutputs()));
      const prototxt = out.prototxt;
      const caffemodel: FoldOutputBlobs['caffemodel'] = out.caffemodel ? { name: out.caffemodel.name, blob: out.caffemodel.blob } : undefined;
      // The folded graph is laid out before the result is shown, so the view switches once, to a ready graph.
      const after = await call((w) => w.layout('after'));
      set((s) => ({
        job: { status: 'done', done: 1, total: 1 },
        result: { summary, prototxt, caffemodel, skipKey: skipKeyOf(Object.fromEntries(skip.map((k) => [k, true as const]))) },
        layouts: after.ok ? { before: s.layouts.before, after: after.value } : { before: s.layouts.before },
        selection: undefined,
        details: undefined,
        error: after.ok ? undefined : after.error,
      }));
      // The report and the folded graph are drawn in two tasks, so neither holds the main thread for long.
      if (after.ok) {
        await new Promise((r) => setTimeout(r, 0));
        if (get().result?.summary === summary) set({ side: 'after', selection: undefined, details: undefined });
      }
      // The whole-net check: started on its own for models up to AUTO_CHECK_MAX_BYTES (check.ts).
      if (get().result?.summary === summary) checkAfterFold(get, set);
    } catch (e) {
      if (e instanceof Cancelled) return;
      set({ job: { ...get().job, status: 'failed' }, error: asPlain(e) });
    }
  },
  cancel() {
    if (get().job.status !== 'running') return;
    terminateWorker();
    loadedIn = -1;
    set({ job: { status: 'cancelled', done: 0, total: 0 } });
  },
  async download(what) {
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
      set({ error: asPlain(e) });
    } finally {
      set({ zipping: false });
    }
  },
});

export const useAppStore = create<AppState>()((...a) => ({
  ...createModelSlice(...a),
  ...createViewSlice(...a),
  ...createJobSlice(...a),
  ...createCheckSlice(...a),
  ...createCompareSlice(...a),
}));
