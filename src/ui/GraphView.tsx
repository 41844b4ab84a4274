import { useEffect, useMemo, useState } from 'react';
import {
  Background,
  BackgroundVariant,
  Controls,
  MarkerType,
  MiniMap,
  Panel,
  ReactFlow,
  useReactFlow,
  type Node,
  type NodeMouseHandler,
} from '@xyflow/react';
import { searchLayers } from '../store/selectors';
import { useAppStore } from '../store/store';
import { CATEGORIES, CATEGORY_LABEL } from '../core/display';
import type { GraphLayout, GraphSide } from '../worker/types';
import { RouteEdge, type RouteFlowEdge } from './edges';
import { ChainGroupNode, LayerNode, type GroupFlowNode, type LayerFlowNode } from './nodes';
import { useFitView, useFocusNode, useViewportKeys } from './useViewport';

const nodeTypes = { layer: LayerNode, chainGroup: ChainGroupNode };
const edgeTypes = { route: RouteEdge };
const MARKER = { type: MarkerType.ArrowClosed, width: 14, height: 14 } as const;

function toFlow(layout: GraphLayout): { nodes: (LayerFlowNode | GroupFlowNode)[]; edges: RouteFlowEdge[] } {
  const groups: GroupFlowNode[] = layout.groups.map((g) => ({
    id: `group:${g.id}`,
    type: 'chainGroup',
    position: { x: g.x, y: g.y },
    width: g.width,
    height: g.height,
    data: { group: g },
    selectable: false,
    focusable: false,
    draggable: false,
    zIndex: -1,
  }));
  const nodes: LayerFlowNode[] = layout.nodes.map((n) => ({
    id: n.id,
    type: 'layer',
    position: { x: n.x, y: n.y },
    width: n.width,
    height: n.height,
    data: { node: n },
    draggable: false,
    className: `mm-${n.category}`,
    ariaLabel: `${n.type} ${n.layer}`,
  }));
  const edges: RouteFlowEdge[] = layout.edges.map((e) => ({
    id: e.id,
    source: e.source,
    target: e.target,
    type: 'route',
    data: { edge: e },
    markerEnd: MARKER,
    focusable: false,
    selectable: false,
  }));
  return { nodes: [...groups, ...nodes], edges };
}

const minimapClass = (n: Node) => (typeof n.className === 'string' ? n.className : '');

function Legend() {
  return (
    <div className="legend" aria-label="Layer categories">
      {CATEGORIES.map((c) => (
        <span key={c} className={`legend-item cat-${c}`}>
          <span className="legend-swatch" aria-hidden="true" />
          {CATEGORY_LABEL[c]}
        </span>
      ))}
      <span className="legend-item legend-chain">
        <span className="legend-swatch" aria-hidden="true" />
        Folds
      </span>
    </div>
  );
}

function Search({ layout }: { layout: GraphLayout }) {
  const [q, setQ] = useState('');
  const [open, setOpen] = useState(false);
  const hits = useMemo(() => searchLayers(layout.nodes, q), [layout, q]);
  const focusNode = useAppStore((s) => s.focusNode);
  const select = useAppStore((s) => s.select);
  const go = (i: number) => {
    const h = hits[i];
    if (!h) return;
    focusNode(h.nodeId);
    select({ kind: 'layer', name: h.layer });
    setOpen(false);
  };
  return (
    <div className="search" role="search">
      <input
        type="search"
        value={q}
        placeholder="Find a layer by name or type"
        aria-label="Find a layer by name or type"
        onChange={(e) => {
          setQ(e.target.value);
          setOpen(true);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={(e) => {
          e.stopPropagation();
          if (e.key === 'Enter') go(0);
          if (e.key === 'Escape') setOpen(false);
        }}
      />
      {open && q.trim() && (
        <ul className="search-results" role="listbox" aria-label="Matching layers">
          {hits.length === 0 && <li className="muted empty">No layer matches</li>}
          {hits.map((h, i) => (
            <li key={`${h.nodeId}:${h.layer}`} role="option" aria-selected={i === 0}>
              <button type="button" onMouseDown={(e) => e.preventDefault()} onClick={() => go(i)}>
                <span className="hit-name">{h.layer}</span>
                <span className="hit-type">{h.type}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const EMPTY: GraphLayout = {
  side: 'before',
  nodes: [],
  edges: [],
  groups: [],
  layerNode: {},
  width: 0,
  height: 0,
  layoutMs: 0,
};

/**
 * The graph to draw. When one graph replaces another (Before ⇄ After, a new model), the old one is taken off the
 * canvas in one task and the new one drawn in the next, so neither task does both.
 */
function useShownLayout(layout: GraphLayout | undefined): GraphLayout | undefined {
  const [shown, setShown] = useState(layout);
  useEffect(() => {
    if (layout === shown) return;
    if (!shown || !layout || shown.nodes.length === 0) {
      setShown(layout);
      return;
    }
    setShown({ ...EMPTY, side: layout.side, width: layout.width, height: layout.height });
    const id = setTimeout(() => setShown(layout), 0);
    return () => clearTimeout(id);
  }, [layout]);
  return shown;
}

// Selection goes through the store, read at click time: the handlers never change.
const onNodeClick: NodeMouseHandler = (_e, node) => {
  if (node.type === 'layer')
    useAppStore.getState().select({ kind: 'layer', name: (node as LayerFlowNode).data.node.layer });
};
const onPaneClick = () => useAppStore.getState().select(undefined);

export function GraphView() {
  const side = useAppStore((s) => s.side);
  const layout = useShownLayout(useAppStore((s) => s.layouts[s.side]));
  const flow = useMemo(() => (layout ? toFlow(layout) : { nodes: [], edges: [] }), [layout]);
  const rf = useReactFlow();
  const { wrapper, fit } = useFitView(layout, rf);
  useFocusNode(layout, rf);
  const onKeyDown = useViewportKeys(rf, fit);

  if (!layout) return <div className="graph graph-empty">Laying out the graph…</div>;
  return (
    <div
      className="graph"
      ref={wrapper}
      tabIndex={0}
      onKeyDown={onKeyDown}
      aria-label={`Graph of the ${side === 'before' ? 'loaded' : 'folded'} network: + and − zoom, arrow keys pan, 0 fits`}
      data-testid="graph"
      data-side={side}
    >
      <ReactFlow
        nodes={flow.nodes}
        edges={flow.edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodeClick={onNodeClick}
        onPaneClick={onPaneClick}
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable
        // Only what is on screen is in the DOM: a 670-layer net mounts a few dozen nodes, not all of them, so
        // drawing it (and switching to the folded graph) stays a short task; panning mounts nodes as they appear.
        onlyRenderVisibleElements
        minZoom={0.05}
        maxZoom={2.5}
        colorMode="system"
        proOptions={{ hideAttribution: true }}
        disableKeyboardA11y={false}
      >
        <Background variant={BackgroundVariant.Dots} gap={20} size={1} />
        <Controls showInteractive={false} position="bottom-left" aria-label="Zoom controls" />
        <MiniMap pannable zoomable nodeClassName={minimapClass} position="bottom-right" ariaLabel="Minimap" />
        <GraphPanels layout={layout} side={side} />
      </ReactFlow>
    </div>
  );
}

/** What floats over the canvas: the search, which graph this is, the legend. */
function GraphPanels({ layout, side }: { layout: GraphLayout; side: GraphSide }) {
  return (
    <>
      <Panel position="top-left">
        <Search layout={layout} />
      </Panel>
      <Panel position="top-right">
        <div className="graph-side-label">
          {side === 'before' ? 'Loaded model' : 'After folding'} · {layout.nodes.length} nodes
        </div>
      </Panel>
      <Panel position="bottom-center">
        <Legend />
      </Panel>
    </>
  );
}
