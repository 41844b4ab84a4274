/**
 * Derived data: computed from the store's state, never stored. Keep them cheap; one that builds a new object each
 * time is used through useShallow, so a component re-renders only when a field changes.
 */
import type { Analysis } from '../worker/types';
import type { AppState } from './store';
import type { Selection } from './view';

export interface FoldCounts {
  chains: number;
  foldable: number;
  skipped: number;
  removedLayers: number;
  refused: number;
}

/** Pure: counts for the summary bar from an analysis and the skip set. */
export function foldCounts(analysis: Analysis | undefined, skip: Record<string, true>): FoldCounts {
  if (!analysis) return { chains: 0, foldable: 0, skipped: 0, removedLayers: 0, refused: 0 };
  let foldable = 0;
  let removed = 0;
  for (const c of analysis.chains) {
    if (skip[c.id]) continue;
    foldable++;
    removed += c.removed.length;
  }
  return {
    chains: analysis.chains.length,
    foldable,
    skipped: analysis.chains.length - foldable,
    removedLayers: removed,
    refused: analysis.refusals.length,
  };
}

/** A new object each time: use it through useShallow. */
export const selectFoldCounts = (s: AppState): FoldCounts => foldCounts(s.summary?.analysis, s.skip);

/** The skip set as one string, to tell whether a fold result was made with the switches as they are. */
export const skipKeyOf = (skip: Record<string, true>) => Object.keys(skip).sort().join('\n');

/** The fold result no longer matches the switches: fold again before downloading. */
export const selectResultStale = (s: AppState): boolean => !!s.result && s.result.skipKey !== skipKeyOf(s.skip);

/** Whether a node (its layer names, its chains) is what the side panel shows. */
export function isNodeSelected(
  sel: Selection | undefined,
  layers: readonly string[],
  chains: readonly string[],
): boolean {
  if (!sel) return false;
  return sel.kind === 'layer' ? layers.includes(sel.name) : chains.includes(sel.id);
}

export interface SearchHit {
  nodeId: string;
  layer: string;
  type: string;
}

/** Layers whose name or type contains the query (case-insensitive), names before types, at most `limit`. */
export function searchLayers(
  nodes: readonly { id: string; layer: string; type: string; rows: readonly { layer: string; type: string }[] }[],
  query: string,
  limit = 12,
): SearchHit[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const byName: SearchHit[] = [];
  const byType: SearchHit[] = [];
  const visit = (nodeId: string, layer: string, type: string) => {
    const n = layer.toLowerCase();
    if (n === q) byName.unshift({ nodeId, layer, type });
    else if (n.includes(q)) byName.push({ nodeId, layer, type });
    else if (type.toLowerCase().includes(q)) byType.push({ nodeId, layer, type });
  };
  for (const node of nodes) {
    visit(node.id, node.layer, node.type);
    for (const r of node.rows) visit(node.id, r.layer, r.type);
  }
  return [...byName, ...byType].slice(0, limit);
}
