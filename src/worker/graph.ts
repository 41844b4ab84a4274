/**
 * The graph the UI draws, built from the network model: one node per layer, except in-place layers
 * (ReLU, and BatchNorm/Scale when in place), which become rows inside the node that produced their input —
 * as long as nobody else reads that input (otherwise the row would hide a fork, and the layer gets its own node).
 * Positions are filled in by the layout.
 */
import { formatShape, layerCategory } from '../core/display';
import type { Analysis, GraphEdge, GraphNode, GraphRow, GraphSide } from './types';

/** The part of core's `Net` the graph needs (so tests can build one by hand too). */
export interface NetLike {
  inputs: { name: string; shape?: number[]; ref: { id: string; name: string } }[];
  layers: {
    index: number;
    name: string;
    type: string;
    bottomRefs: { id: string; name: string }[];
    topRefs: { id: string; name: string }[];
    inPlace: boolean;
  }[];
  consumers: Map<string, number[]>;
}

export interface GraphModel {
  side: GraphSide;
  nodes: GraphNode[];
  edges: GraphEdge[];
  layerNode: Record<string, string>;
  /** Chain id → label, for chains present in the graph. */
  chainLabels: Record<string, string>;
}

const CHAR_W = 7.2;
const HEADER_H = 46;
const ROW_H = 22;
const PAD_BOTTOM = 6;
export const NODE_MIN_W = 176;
export const NODE_MAX_W = 340;

/** Node size from its text, so React Flow needs no measuring pass. */
export function nodeSize(n: Pick<GraphNode, 'type' | 'layer' | 'rows' | 'badge' | 'outShape' | 'refused'>): {
  width: number;
  height: number;
} {
  const header = n.type.length * (CHAR_W + 0.6) + (n.badge ? n.badge.length * 6.4 + 26 : 0) + (n.refused ? 22 : 0);
  const name = n.layer.length * CHAR_W;
  const shape = n.outShape ? (n.outShape.length + 2) * 6.4 : 0;
  const rows = n.rows.map((r) => (r.type.length + r.layer.length + 2) * CHAR_W + 24 + (r.refused ? 22 : 0));
  const w = Math.max(NODE_MIN_W, header + 28, name + shape + 36, ...rows.map((r) => r + 20));
  return {
    width: Math.ceil(Math.min(NODE_MAX_W, w)),
    height: HEADER_H + (n.rows.length > 0 ? n.rows.length * ROW_H + PAD_BOTTOM : 0),
  };
}

export function edgeLabel(blob: string, shape: number[] | undefined): string {
  return shape ? `${blob} · ${formatShape(shape)}` : blob;
}

type NetLayerLike = NetLike['layers'][number];

/** What the analysis says of one layer: the chain it is in, and why its fold is refused. */
interface Marks {
  chain?: { id: string; label: string; removed: boolean; first: boolean };
  refused?: string;
}

/** A node while the graph is built: `singleTop` says whether in-place layers may become its rows. */
type HostNode = GraphNode & { singleTop: boolean };

/** The graph under construction. `owner` maps a blob id to the node that draws the blob's current producer. */
interface Building {
  nodes: GraphNode[];
  byId: Map<string, HostNode>;
  owner: Map<string, string>;
  edges: GraphEdge[];
  layerNode: Record<string, string>;
}

export function buildGraph(
  net: NetLike,
  analysis: Analysis | undefined,
  shapes: Map<string, number[]>,
  side: GraphSide,
): GraphModel {
  const { marksOf, chainLabels } = layerMarks(analysis);
  const g: Building = { nodes: [], byId: new Map(), owner: new Map(), edges: [], layerNode: {} };
  for (const input of net.inputs) addInputNode(g, input, shapes);
  for (const layer of net.layers) {
    const marks = marksOf(layer.name);
    const host = rowHost(g, net, layer);
    if (host) addRow(g, host, layer, marks, shapes);
    else addLayerNode(g, layer, marks, shapes);
  }
  for (const n of g.nodes) {
    const { width, height } = nodeSize(n);
    n.width = width;
    n.height = height;
    delete (n as Partial<HostNode>).singleTop;
  }
  return { side, nodes: g.nodes, edges: g.edges, layerNode: g.layerNode, chainLabels };
}

/** Chains and refusals by layer name, and the labels of the chains. */
function layerMarks(analysis: Analysis | undefined): {
  marksOf: (layer: string) => Marks;
  chainLabels: Record<string, string>;
} {
  const chainOf = new Map<string, NonNullable<Marks['chain']>>();
  const chainLabels: Record<string, string> = {};
  for (const c of analysis?.chains ?? []) {
    chainLabels[c.id] = c.label;
    c.layers.forEach((l, i) =>
      chainOf.set(l, { id: c.id, label: c.label, removed: c.removed.includes(l), first: i === 0 }),
    );
  }
  const refusedOf = new Map<string, string>();
  for (const r of analysis?.refusals ?? []) refusedOf.set(r.layer, r.reason);
  return { marksOf: (layer) => ({ chain: chainOf.get(layer), refused: refusedOf.get(layer) }), chainLabels };
}

function addNode(g: Building, n: GraphNode, singleTop: boolean) {
  const full = Object.assign(n, { singleTop });
  g.nodes.push(n);
  g.byId.set(n.id, full);
}

function addInputNode(g: Building, input: NetLike['inputs'][number], shapes: Map<string, number[]>) {
  const id = `in:${input.name}`;
  addNode(
    g,
    {
      id,
      kind: 'input',
      layer: input.name,
      type: 'Input',
      category: 'data',
      rows: [],
      outShape: input.shape
        ? formatShape(input.shape)
        : shapes.has(input.ref.id)
          ? formatShape(shapes.get(input.ref.id))
          : undefined,
      x: 0,
      y: 0,
      width: 0,
      height: 0,
    },
    true,
  );
  g.owner.set(input.ref.id, id);
}

/**
 * The node an in-place layer is drawn in, as a row: the layer node that produced its input, if that node has one
 * top and nobody else reads the input (otherwise the row would hide a fork). Undefined: the layer gets its own node.
 */
function rowHost(g: Building, net: NetLike, layer: NetLayerLike): HostNode | undefined {
  const b = layer.bottomRefs[0];
  const t = layer.topRefs[0];
  const hostId = b ? g.owner.get(b.id) : undefined;
  const host = hostId ? g.byId.get(hostId) : undefined;
  const asRow =
    layer.inPlace &&
    layer.bottomRefs.length === 1 &&
    layer.topRefs.length === 1 &&
    t.name === b.name &&
    host !== undefined &&
    host.kind === 'layer' &&
    host.singleTop &&
    (net.consumers.get(b.id)?.length ?? 0) === 1;
  return asRow ? host : undefined;
}

/** An in-place layer as a row of its host: the host now owns the layer's top and shows its shape. */
function addRow(
  g: Building,
  host: HostNode,
  layer: NetLayerLike,
  { chain, refused }: Marks,
  shapes: Map<string, number[]>,
) {
  const t = layer.topRefs[0];
  const row: GraphRow = { layer: layer.name, type: layer.type, category: layerCategory(layer.type) };
  if (chain) {
    row.chain = chain.id;
    if (chain.removed) row.removed = true;
  }
  if (refused) row.refused = refused;
  host.rows.push(row);
  g.owner.set(t.id, host.id);
  g.layerNode[layer.name] = host.id;
  const s = shapes.get(t.id);
  if (s) host.outShape = formatShape(s);
  if (chain?.first && !host.badge) host.badge = chain.label;
}

/** A layer's own node, with an edge from the node of each of its bottoms it can find. */
function addLayerNode(g: Building, layer: NetLayerLike, { chain, refused }: Marks, shapes: Map<string, number[]>) {
  const id = `L${layer.index}`;
  const lastTop = layer.topRefs[layer.topRefs.length - 1];
  const node: GraphNode = {
    id,
    kind: 'layer',
    layer: layer.name,
    type: layer.type,
    category: layerCategory(layer.type),
    rows: [],
    x: 0,
    y: 0,
    width: 0,
    height: 0,
  };
  if (layer.topRefs.length === 1 && shapes.has(lastTop.id)) node.outShape = formatShape(shapes.get(lastTop.id));
  if (chain) {
    node.chain = chain.id;
    if (chain.removed) node.removed = true;
    if (chain.first) node.badge = chain.label;
  }
  if (refused) node.refused = refused;
  addNode(g, node, layer.topRefs.length === 1);
  g.layerNode[layer.name] = id;
  layer.bottomRefs.forEach((ref, k) => {
    const src = g.owner.get(ref.id);
    if (!src) return;
    const shape = shapes.get(ref.id);
    g.edges.push({
      id: `${ref.id}>${id}#${k}`,
      source: src,
      target: id,
      blob: ref.name,
      shape,
      label: edgeLabel(ref.name, shape),
      points: [],
    });
  });
  for (const ref of layer.topRefs) g.owner.set(ref.id, id);
}
