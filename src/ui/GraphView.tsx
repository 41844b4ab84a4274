import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
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
import type { GraphLayout } from '../worker/types';
import { RouteEdge, type RouteFlowEdge } from './edges';
import { ChainGroupNode, LayerNode, type GroupFlowNode, type LayerFlowNode } from './nodes';

const nodeTypes = { layer: LayerNode, chainGroup: ChainGroupNode };
const edgeTypes = { route: RouteEdge };
const MARKER = { type: MarkerType.ArrowClosed, width: 14, height: 14 } as const;
const PAN_STEP = 80;

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

const EMPTY: GraphLayout = { side: 'before', nodes: [], edges: [], groups: [], layerNode: {}, width: 0, height: 0, layoutMs: 0 };

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

export function GraphView() {
  const side = useAppStore((s) => s.side);
  const layout = useShownLayout(useAppStore((s) => s.layouts[s.side]));
  const focus = useAppStore((s) => s.focus);
  const flow = useMemo(() => (layout ? toFlow(layout) : { nodes: [], edges: [] }), [layout]);
  const rf = useReactFlow();

  const onNodeClick: NodeMouseHandler = useCallback((_e, node) => {
    if (node.type === 'layer') useAppStore.getState().select({ kind: 'layer', name: (node as LayerFlowNode).data.node.layer });
  }, []);
  const onPaneClick = useCallback(() => useAppStore.getState().select(undefined), []);

  // The canvas size comes from a ResizeObserver (reported after layout), so setting the view never forces a
  // synchronous layout of the page; the view of a new graph is set before its first paint.
  const size = useRef<{ w: number; h: number } | undefined>(undefined);
  const initialView = useCallback(() => {
    if (!layout || !size.current) return;
    const { w, h } = size.current;
    const fit = Math.min(w / (layout.width + 40), h / (layout.height + 40));
    if (fit >= 0.55) {
      const z = Math.min(1.1, fit * 0.92);
      void rf.setViewport({ x: (w - layout.width * z) / 2, y: (h - layout.height * z) / 2, zoom: z });
    } else {
      // A tall net: start readable at its top, centred, rather than as an unreadable thumbnail.
      const z = Math.max(0.55, Math.min(1, w / (layout.width + 40)));
      void rf.setViewport({ x: Math.max(16, (w - layout.width * z) / 2), y: 16, zoom: z });
    }
  }, [layout, rf]);
  const initialViewRef = useRef(initialView);
  initialViewRef.current = initialView;
  const observer = useRef<ResizeObserver | undefined>(undefined);
  const wrapper = useCallback((el: HTMLDivElement | null) => {
    observer.current?.disconnect();
    observer.current = undefined;
    if (!el) return;
    observer.current = new ResizeObserver(([entry]) => {
      const first = !size.current;
      size.current = { w: entry.contentRect.width, h: entry.contentRect.height };
      if (first) initialViewRef.current();
    });
    observer.current.observe(el);
  }, []);
  useLayoutEffect(initialView, [initialView]);

  useEffect(() => {
    if (!focus || !layout) return;
    const n = layout.nodes.find((x) => x.id === focus.nodeId);
    if (!n) return;
    void rf.setCenter(n.x + n.width / 2, n.y + n.height / 2, { zoom: Math.max(rf.getZoom(), 1), duration: 350 });
  }, [focus, layout, rf]);

  const onKeyDown = useCallback(
    (e: KeyboardEvent<HTMLDivElement>) => {
      const t = e.target as HTMLElement;
      if (t.closest('input, textarea, select, button')) return;
      const v = rf.getViewport();
      switch (e.key) {
        case '+':
        case '=':
          void rf.zoomIn({ duration: 150 });
          break;
        case '-':
        case '_':
          void rf.zoomOut({ duration: 150 });
          break;
        case 'ArrowUp':
          void rf.setViewport({ ...v, y: v.y + PAN_STEP }, { duration: 100 });
          break;
        case 'ArrowDown':
          void rf.setViewport({ ...v, y: v.y - PAN_STEP }, { duration: 100 });
          break;
        case 'ArrowLeft':
          void rf.setViewport({ ...v, x: v.x + PAN_STEP }, { duration: 100 });
          break;
        case 'ArrowRight':
          void rf.setViewport({ ...v, x: v.x - PAN_STEP }, { duration: 100 });
          break;
        case '0':
          initialView();
          break;
        default:
          return;
      }
      e.preventDefault();
    },
    [rf, initialView],
  );

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
        <Panel position="top-left">
          <Search layout={layout} />
        </Panel>
        <Panel position="top-right">
          <div className="graph-side-label">{side === 'before' ? 'Loaded model' : 'After folding'} · {layout.nodes.length} nodes</div>
        </Panel>
        <Panel position="bottom-center">
          <Legend />
        </Panel>
      </ReactFlow>
    </div>
  );
}
