/** The view slice: which graph is shown, what is selected and its details in the side panel, which node to centre. */
import type { ChainDetails, GraphSide, LayerDetails, PlainError } from '../worker/types';
import { Cancelled } from './bridge';
import { asPlain, unwrap } from './errors';
import { session } from './session';
import type { GetState, SetState, Slice } from './store';

export type Selection = { kind: 'layer'; name: string } | { kind: 'chain'; id: string };

export interface ViewSlice {
  side: GraphSide;
  selection?: Selection;
  /** The selection's details; without value or error, they are on their way. */
  details?: { key: string; value?: LayerDetails | ChainDetails; error?: PlainError };
  /** Bumped to ask the graph to centre a node. */
  focus?: { nodeId: string; seq: number };
  setSide: (side: GraphSide) => Promise<void>;
  select: (sel: Selection | undefined) => void;
  focusNode: (nodeId: string) => void;
  /** The loaded model's graph, nothing selected: where a new model starts. */
  resetView: () => void;
}

const selectionKey = (sel: Selection): string => (sel.kind === 'layer' ? `layer:${sel.name}` : `chain:${sel.id}`);

/** Show the other graph; the folded one is laid out first if its layout failed after the fold. */
async function setSide(set: SetState, get: GetState, side: GraphSide): Promise<void> {
  if (side === get().side) return;
  if (side === 'after' && !get().layouts.after) {
    if (!get().result) return;
    try {
      get().setFoldedLayout(unwrap(await session.layoutFolded()));
    } catch (e) {
      if (!(e instanceof Cancelled)) get().setError(asPlain(e));
      return;
    }
  }
  set({ side, selection: undefined, details: undefined });
}

function select(set: SetState, get: GetState, sel: Selection | undefined): void {
  if (!sel) {
    set({ selection: undefined, details: undefined });
    return;
  }
  const key = selectionKey(sel);
  const asked = { key };
  set({ selection: sel, details: asked });
  // The answer is shown only while the panel still waits for it: another selection, side or model replaces `details`.
  const stillAsked = () => get().details === asked;
  const side = get().side;
  void (async () => {
    try {
      const r = sel.kind === 'layer' ? await session.layerDetails(side, sel.name) : await session.chainDetails(sel.id);
      if (stillAsked()) set({ details: r.ok ? { key, value: r.value } : { key, error: r.error } });
    } catch (e) {
      if (!stillAsked()) return;
      // Cancelled with the fold it waited behind (the selection still stands): ask again, from the reloaded model.
      if (e instanceof Cancelled) select(set, get, sel);
      else set({ details: { key, error: asPlain(e) } });
    }
  })();
}

export const createViewSlice: Slice<ViewSlice> = (set, get) => ({
  side: 'before',
  setSide: (side) => setSide(set, get, side),
  select: (sel) => select(set, get, sel),
  focusNode: (nodeId) => set((s) => ({ focus: { nodeId, seq: (s.focus?.seq ?? 0) + 1 } })),
  resetView: () => set({ side: 'before', selection: undefined, details: undefined }),
});
