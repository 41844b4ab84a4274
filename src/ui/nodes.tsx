/** Custom React Flow nodes: memoised, subscribed to the store by id, defined at module scope. */
import { memo, useMemo, type MouseEvent } from 'react';
import { Handle, Position, type Node, type NodeProps } from '@xyflow/react';
import { useShallow } from 'zustand/react/shallow';
import { isNodeSelected } from '../store/selectors';
import { useAppStore } from '../store/store';
import type { ChainGroup, GraphNode, GraphRow } from '../worker/types';

export type LayerFlowNode = Node<{ node: GraphNode }, 'layer'>;
export type GroupFlowNode = Node<{ group: ChainGroup }, 'chainGroup'>;

const selectLayer = (name: string) => useAppStore.getState().select({ kind: 'layer', name });
const selectChain = (id: string) => useAppStore.getState().select({ kind: 'chain', id });

function Row({ row, skipped, selected }: { row: GraphRow; skipped: boolean; selected: boolean }) {
  const onClick = (e: MouseEvent) => {
    e.stopPropagation();
    selectLayer(row.layer);
  };
  const cls = [
    'node-row',
    `cat-${row.category}`,
    row.chain && !skipped ? 'in-chain' : '',
    row.removed && !skipped ? 'removed' : '',
    row.refused ? 'refused' : '',
    selected ? 'is-selected' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return (
    <div
      className={cls}
      onClick={onClick}
      title={
        row.refused ? `Not folded: ${row.refused}` : row.removed && !skipped ? `${row.layer} is folded away` : row.layer
      }
    >
      <span className="row-dot" aria-hidden="true" />
      <span className="row-type">{row.type}</span>
      <span className="row-name">{row.layer}</span>
      {row.refused && (
        <span className="refused-mark" aria-label="refused">
          !
        </span>
      )}
    </div>
  );
}

function LayerNodeView({ data }: NodeProps<LayerFlowNode>) {
  const n = data.node;
  const layers = useMemo(() => [n.layer, ...n.rows.map((r) => r.layer)], [n]);
  const chains = useMemo(
    () => [...new Set([n.chain, ...n.rows.map((r) => r.chain)].filter((c): c is string => !!c))],
    [n],
  );
  const selected = useAppStore((s) => isNodeSelected(s.selection, layers, chains));
  const selectedRow = useAppStore((s) =>
    s.selection?.kind === 'layer' && s.selection.name !== n.layer && layers.includes(s.selection.name)
      ? s.selection.name
      : undefined,
  );
  const skippedList = useAppStore(useShallow((s) => chains.map((c) => !!s.skip[c])));
  const skipped = (id: string | undefined) => !!id && skippedList[chains.indexOf(id)];
  const inChain = chains.length > 0 && chains.some((c) => !skipped(c));
  const cls = [
    'flow-node',
    `cat-${n.category}`,
    n.kind === 'input' ? 'is-input' : '',
    inChain ? 'in-chain' : '',
    chains.length > 0 && !inChain ? 'chain-kept' : '',
    n.removed && !skipped(n.chain) ? 'removed' : '',
    n.refused ? 'refused' : '',
    selected ? 'is-selected' : '',
  ]
    .filter(Boolean)
    .join(' ');
  const badgeChain = n.badge ? (n.chain ?? n.rows.find((r) => r.chain)?.chain) : undefined;
  return (
    <div
      className={cls}
      style={{ width: n.width, height: n.height }}
      title={n.refused ? `Not folded: ${n.refused}` : undefined}
      data-layer={n.layer}
    >
      <Handle type="target" position={Position.Top} className="flow-handle" isConnectable={false} />
      <div className="node-head">
        <div className="node-title">
          <span className="node-type">{n.type}</span>
          {n.badge && badgeChain && (
            <button
              type="button"
              className={`chain-badge${skipped(badgeChain) ? ' kept' : ''}`}
              onClick={(e) => {
                e.stopPropagation();
                selectChain(badgeChain);
              }}
              aria-label={`Chain ${n.badge} at ${n.layer}`}
              title={skipped(badgeChain) ? 'Kept as it is (switched off)' : `Folds as ${n.badge}`}
            >
              {n.badge}
            </button>
          )}
          {n.refused && (
            <span className="refused-mark" aria-label="refused">
              !
            </span>
          )}
        </div>
        <div className="node-sub">
          <span className="node-name">{n.layer}</span>
          {n.outShape && <span className="node-shape">{n.outShape}</span>}
        </div>
      </div>
      {n.rows.length > 0 && (
        <div className="node-rows">
          {n.rows.map((r) => (
            <Row key={r.layer} row={r} skipped={skipped(r.chain)} selected={selectedRow === r.layer} />
          ))}
        </div>
      )}
      <Handle type="source" position={Position.Bottom} className="flow-handle" isConnectable={false} />
    </div>
  );
}

function ChainGroupView({ data }: NodeProps<GroupFlowNode>) {
  const g = data.group;
  const kept = useAppStore((s) => !!s.skip[g.id]);
  const selected = useAppStore((s) => s.selection?.kind === 'chain' && s.selection.id === g.id);
  return (
    <div
      className={`chain-group${kept ? ' kept' : ''}${selected ? ' is-selected' : ''}`}
      style={{ width: g.width, height: g.height }}
      aria-hidden="true"
    />
  );
}

export const LayerNode = memo(LayerNodeView);
export const ChainGroupNode = memo(ChainGroupView);
