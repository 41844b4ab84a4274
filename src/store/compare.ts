/**
 * The compare slice: the page's counterpart of the CLI's `compare`. The user gives two pairs of files — an
 * original (.prototxt + .caffemodel) and a folded one, whatever tool folded it — and the whole-net check
 * (check.ts's runCheckOf, the same worker and table as after a fold) runs them on the same input.
 * Each zone tells its files apart by content (the fold worker's detect), never by name alone.
 */
import { formatBytes } from '../core/display';
import { caffeError, checkFileSize } from '../core/errors';
import { ENGINE_MAX_MODEL_BYTES } from './check';
import { asPlain, inFile } from './errors';
import { Unreadable, session } from './session';
import type { GetState, SetState, Slice } from './store';

export type CompareSide = 'original' | 'folded';

export interface CompareZone {
  prototxt?: File;
  caffemodel?: File;
  /** What is wrong with the files last given to this zone, as the user reads it. */
  error?: string;
  /** Telling the files apart. */
  reading?: boolean;
}

export interface CompareSlice {
  /** The compare view is open (instead of the landing page). */
  compareOpen: boolean;
  compare: Record<CompareSide, CompareZone>;
  openCompare: () => void;
  closeCompare: () => void;
  /** Files given to one zone: a .prototxt and/or a .caffemodel, each replacing the zone's file of its kind. */
  addCompareFiles: (side: CompareSide, files: File[]) => Promise<void>;
  clearCompareZone: (side: CompareSide) => void;
  /** Run the whole-net check on the two pairs. */
  runCompare: () => Promise<void>;
}

const EMPTY: Record<CompareSide, CompareZone> = { original: {}, folded: {} };

/** Both zones hold one .prototxt and one .caffemodel. */
export function compareReady(c: Record<CompareSide, CompareZone>): boolean {
  return !!(
    c.original.prototxt &&
    c.original.caffemodel &&
    c.folded.prototxt &&
    c.folded.caffemodel &&
    !c.original.reading &&
    !c.folded.reading
  );
}

/** The file's kind, told by its content; or throws why it cannot be one side's file (a table error, in it). */
async function kindOf(file: File): Promise<'prototxt' | 'caffemodel'> {
  const where = { kind: 'file', file: file.name } as const;
  if (file.size === 0) throw caffeError('file-empty', {}, where);
  checkFileSize(file.name, file.size);
  const r = await session.detect(file).catch((e: unknown) => {
    if (e instanceof Unreadable) throw caffeError('file-vanished', {}, where);
    throw e;
  });
  if (!r.ok) throw inFile(r.error, file.name);
  return r.value;
}

const setZone = (set: SetState, side: CompareSide, zone: CompareZone) =>
  set((s) => ({ compare: { ...s.compare, [side]: zone } }));

/** Tell the files apart and put them in the zone; the zone's files stay if the new ones cannot be taken. */
async function addCompareFiles(set: SetState, get: GetState, side: CompareSide, files: File[]): Promise<void> {
  if (files.length === 0) return;
  const before = get().compare[side];
  const reading: CompareZone = { prototxt: before.prototxt, caffemodel: before.caffemodel, reading: true };
  setZone(set, side, reading);
  // The answer is taken only while the zone still waits for it: newer files, a cleared zone or a closed view replace it.
  const stillAsked = () => get().compare[side] === reading;
  try {
    if (files.length > 2) throw caffeError('files-too-many', { count: files.length, compare: true });
    const kinds: { file: File; kind: 'prototxt' | 'caffemodel' }[] = [];
    for (const file of files) kinds.push({ file, kind: await kindOf(file) });
    const protos = kinds.filter((k) => k.kind === 'prototxt');
    const models = kinds.filter((k) => k.kind === 'caffemodel');
    if (protos.length > 1) throw caffeError('two-prototxt', { names: protos.map((k) => k.file.name) });
    if (models.length > 1) throw caffeError('two-caffemodel', { names: models.map((k) => k.file.name) });
    if (!stillAsked()) return;
    // The files changed: a result (or a running check) of other files is dropped.
    get().resetCheck();
    setZone(set, side, {
      prototxt: protos[0]?.file ?? before.prototxt,
      caffemodel: models[0]?.file ?? before.caffemodel,
    });
  } catch (e) {
    if (!stillAsked()) return;
    // The files the zone held stay; the error says why the new ones were not taken (where, what, what to do).
    setZone(set, side, { prototxt: before.prototxt, caffemodel: before.caffemodel, error: asPlain(e).message });
  }
}

async function runCompare(get: GetState): Promise<void> {
  const c = get().compare;
  if (!compareReady(c)) return;
  const pair = (z: CompareZone) => ({
    prototxt: { name: z.prototxt!.name, file: z.prototxt! },
    caffemodel: { name: z.caffemodel!.name, file: z.caffemodel! },
  });
  const size = Math.max(c.original.caffemodel!.size, c.folded.caffemodel!.size);
  if (size > ENGINE_MAX_MODEL_BYTES) {
    return get().setCheckWaiting(
      `Not run: the caffemodel is ${formatBytes(size)}; OpenCV in WebAssembly checks models up to ${formatBytes(ENGINE_MAX_MODEL_BYTES)} (its memory is limited to 1 GB). Compare them with the command line's \`npm run fold -- compare\`.`,
      true,
    );
  }
  await get().runCheckOf(pair(c.original), pair(c.folded));
}

export const createCompareSlice: Slice<CompareSlice> = (set, get) => ({
  compareOpen: false,
  compare: EMPTY,
  openCompare() {
    get().resetCheck();
    get().dismissError();
    set({ compareOpen: true, compare: EMPTY });
  },
  closeCompare() {
    get().resetCheck();
    set({ compareOpen: false, compare: EMPTY });
  },
  clearCompareZone(side) {
    get().resetCheck();
    setZone(set, side, {});
  },
  addCompareFiles: (side, files) => addCompareFiles(set, get, side, files),
  runCompare: () => runCompare(get),
});
