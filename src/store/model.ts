/**
 * The model slice: the user's files, their load, what the worker said of them (summary, graphs), and the page's
 * error panel. A new model (or none) starts the view, the fold and its check over, through their own reset actions.
 */
import { caffeError, checkFileSize } from '../core/errors';
import type { GraphLayout, GraphSide, LoadSummary, PlainError } from '../worker/types';
import { Cancelled } from './bridge';
import { asPlain, fail, inFile, unwrap } from './errors';
import { session, type FileKind, type Load, type ModelFiles } from './session';
import type { GetState, SetState, Slice } from './store';

export interface ModelSlice {
  /** The user's files: cheap handles (the session gives them to the worker again when it lost the model). */
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
  pending?: ModelFiles;
  openFiles: (files: File[]) => Promise<void>;
  /** Load the pending files, layers without weights and all. */
  loadAnyway: () => Promise<void>;
  loadSample: () => Promise<void>;
  dismissError: () => void;
  closeModel: () => void;
  /** Show an error in the panel (undefined: hide it). */
  setError: (error: PlainError | undefined) => void;
  /** The folded graph's layout, or none (a new fold is on its way). */
  setFoldedLayout: (layout: GraphLayout | undefined) => void;
}

/** The view, the fold and its choices, and the fold's check belong to the model on screen (a running check is stopped). */
function startOver(get: GetState): void {
  get().resetView();
  get().resetJob();
  get().resetCheck();
}

/** The kinds of the dropped files, told by their content; refused before any is read if they cannot be a model. */
async function detectKinds(load: Load, dropped: File[]): Promise<{ file: File; kind: FileKind }[]> {
  if (dropped.length > 2) throw fail('files-too-many', { count: dropped.length, compare: false });
  const kinds: { file: File; kind: FileKind }[] = [];
  for (const file of dropped) {
    if (file.size === 0) throw caffeError('file-empty', {}, { kind: 'file', file: file.name });
    checkFileSize(file.name, file.size);
    const r = await load.detect(file);
    if (!r.ok) throw inFile(r.error, file.name);
    kinds.push({ file, kind: r.value });
  }
  return kinds;
}

/** The pair to load from the dropped files (a caffemodel alone goes with the prototxt on screen), or the caffemodel alone. */
function pairOf(
  kinds: { file: File; kind: FileKind }[],
  shown: ModelSlice['files'],
): ModelFiles | { caffemodel: File } {
  const protos = kinds.filter((k) => k.kind === 'prototxt');
  const models = kinds.filter((k) => k.kind === 'caffemodel');
  if (protos.length > 1) throw fail('two-prototxt', { names: protos.map((k) => k.file.name) });
  if (models.length > 1) throw fail('two-caffemodel', { names: models.map((k) => k.file.name) });
  // A caffemodel dropped alone waits (no model on screen) for its prototxt: it goes with the next one dropped alone.
  const waiting = shown.prototxt ? undefined : shown.caffemodel;
  if (protos.length) return { prototxt: protos[0].file, caffemodel: models[0]?.file ?? waiting };
  if (shown.prototxt) return { prototxt: shown.prototxt, caffemodel: models[0].file };
  return { caffemodel: models[0].file };
}

/** Load a prototxt (+ caffemodel) in the worker and lay it out; the model on screen stays until this succeeds. */
async function openModel(
  set: SetState,
  get: GetState,
  load: Load,
  files: ModelFiles,
  allowMissingWeights: boolean,
): Promise<void> {
  // The model on screen stays in the store (and in the session) until the new files have loaded: files that
  // fail to load bring it back, with the error panel.
  set({ loadStatus: 'loading', loadStep: 'Reading files' });
  const { summary, layout } = unwrap(await load.open(files, allowMissingWeights, (loadStep) => set({ loadStep })));
  startOver(get);
  set({ files, allowMissingWeights, summary, layouts: { before: layout }, loadStatus: 'ready', loadStep: undefined });
}

/** A load that failed: the error panel, the model on screen (if any) kept; files refused only for lack of weights wait for "Load anyway". */
function failedLoad(set: SetState, e: unknown, files?: ModelFiles): void {
  if (e instanceof Cancelled) return;
  const error = asPlain(e);
  const pending =
    error.code === 'pair-missing-weights' && files
      ? { prototxt: files.prototxt, caffemodel: files.caffemodel }
      : undefined;
  set((s) => ({ error, pending, loadStatus: s.summary && s.layouts.before ? 'ready' : 'empty', loadStep: undefined }));
}

async function openFiles(set: SetState, get: GetState, dropped: File[]): Promise<void> {
  if (dropped.length === 0) return;
  // New files replace the model being folded: the fold stops first, so the files are not read behind it (the worker
  // is busy until it ends) and a Cancel pressed meanwhile cannot drop them.
  get().cancel(); // a no-op unless a fold is running
  const load = session.beginLoad();
  set({ error: undefined, notice: undefined, pending: undefined });
  let files: ModelFiles | undefined;
  try {
    const pair = pairOf(await detectKinds(load, dropped), get().files);
    if (!('prototxt' in pair)) {
      set({
        files: pair,
        notice: `${pair.caffemodel.name} holds weights only. Now add the .prototxt that describes its network.`,
      });
      return;
    }
    files = pair;
    await openModel(set, get, load, files, false);
  } catch (e) {
    failedLoad(set, e, files);
  }
}

export const createModelSlice: Slice<ModelSlice> = (set, get) => ({
  files: {},
  loadStatus: 'empty',
  layouts: {},
  allowMissingWeights: false,
  openFiles: (dropped) => openFiles(set, get, dropped),
  async loadAnyway() {
    const files = get().pending;
    if (!files) return;
    get().cancel(); // a no-op unless a fold is running
    const load = session.beginLoad();
    set({ error: undefined, notice: undefined, pending: undefined });
    try {
      await openModel(set, get, load, files, true);
    } catch (e) {
      failedLoad(set, e, files);
    }
  },
  async loadSample() {
    set({ error: undefined, notice: undefined });
    try {
      const get1 = async (name: string) => {
        const res = await fetch(`./sample/${name}`);
        if (!res.ok) throw fail('sample-missing', { name, status: res.status });
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
    session.close();
    startOver(get);
    set({
      files: {},
      allowMissingWeights: false,
      pending: undefined,
      loadStatus: 'empty',
      summary: undefined,
      layouts: {},
      error: undefined,
      notice: undefined,
    });
  },
  // "Load anyway" answers the refusal it came with: another error (or none) withdraws it.
  setError: (error) => set({ error, pending: undefined }),
  setFoldedLayout: (layout) =>
    set((s) => ({ layouts: layout ? { before: s.layouts.before, after: layout } : { before: s.layouts.before } })),
});
