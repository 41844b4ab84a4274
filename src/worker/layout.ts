/**
 * Layered top-to-bottom layout with ELK, run inside our worker (elk.bundled.js without a worker URL runs
 * in the calling thread). Never import this on the main thread.
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api';
import type { ChainGroup, GraphLayout, Point } from './types';
import type { GraphModel } from './graph';

let elk: InstanceType<typeof ELK> | undefined;

const LABEL_CHAR_W = 6.3;
const GROUP_PAD = 9;

export async function layoutGraph(model: GraphModel): Promise<GraphLayout> {
  const t0 = performance.now();
  elk ??= new ELK();
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'DOWN',
      'elk.edgeRouting': 'ORTHOGONAL',
      'elk.layered.spacing.nodeNodeBetweenLayers': '34',
      'elk.layered.spacing.edgeNodeBetweenLayers': '14',
      'elk.spacing.nodeNode': '36',
      'elk.spacing.edgeNode': '18',
      'elk.spacing.edgeEdge': '12',
      'elk.spacing.edgeLabel': '4',
      'elk.layered.nodePlacement.strategy': 'BRANDES_KOEPF',
      'elk.layered.nodePlacement.bk.fixedAlignment': 'BALANCED',
      'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
      'elk.layered.crossingMinimization.strategy': 'LAYER_SWEEP',
      'elk.edgeLabels.placement': 'CENTER',
      'elk.layered.edgeLabels.sideSelection': 'ALWAYS_DOWN',
      'elk.padding': '[top=24,left=24,bottom=24,right=24]',
    },
    children: model.nodes.map((n) => ({ id: n.id, width: n.width, height: n.height })),
    edges: model.edges.map<ElkExtendedEdge>((e) => ({
      id: e.id,
      sources: [e.source],
      targets: [e.target],
      labels: [{ id: `${e.id}:l`, text: e.label, width: Math.ceil(e.label.length * LABEL_CHAR_W + 10), height: 16 }],
    })),
  };
  const out = await elk.layout(graph);
  const pos = new Map<string, ElkNode>();
  for (const c of out.children ?? []) pos.set(c.id, c);
  const nodes = model.nodes.map((n) => {
    const p = pos.get(n.id);
    return { ...n, x: p?.x ?? 0, y: p?.y ?? 0 };
  });
  const routes = new Map<string, ElkExtendedEdge>();
  for (const e of (out.edges ?? []) as ElkExtendedEdge[]) routes.set(e.id, e);
  const edges = model.edges.map((e) => {
    const r = routes.get(e.id);
    const points: Point[] = [];
    for (const s of r?.sections ?? []) {
      points.push({ x: s.startPoint.x, y: s.startPoint.y });
      for (const b of s.bendPoints ?? []) points.push({ x: b.x, y: b.y });
      points.push({ x: s.endPoint.x, y: s.endPoint.y });
    }
    const l = r?.labels?.[0];
    const labelPos = l && l.x !== undefined && l.y !== undefined ? { x: l.x + (l.width ?? 0) / 2, y: l.y + (l.height ?? 0) / 2 } : undefined;
    return { ...e, points, labelPos };
  });

  const byNode = new Map(nodes.map((n) => [n.id, n]));
  const members = new Map<string, Set<string>>();
  for (const [layer, nodeId] of Object.entries(model.layerNode)) {
    const n = byNode.get(nodeId)!;
    const chain = n.layer === layer ? n.chain : n.rows.find((r) => r.layer === layer)?.chain;
    if (!chain) continue;
    let set = members.get(chain);
    if (!set) members.set(chain, (set = new Set()));
    set.add(nodeId);
  }
  const groups: ChainGroup[] = [];
  for (const [id, set] of members) {
    if (set.size < 2) continue;
    const ns = [...set].map((i) => byNode.get(i)!);
    const x0 = Math.min(...ns.map((n) => n.x)) - GROUP_PAD;
    const y0 = Math.min(...ns.map((n) => n.y)) - GROUP_PAD;
    const x1 = Math.max(...ns.map((n) => n.x + n.width)) + GROUP_PAD;
    const y1 = Math.max(...ns.map((n) => n.y + n.height)) + GROUP_PAD;
    groups.push({ id, label: model.chainLabels[id] ?? id, nodeIds: [...set], x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
  }
  return {
    side: model.side,
    nodes,
    edges,
    groups,
    layerNode: model.layerNode,
    width: out.width ?? 0,
    height: out.height ?? 0,
    layoutMs: Math.round(performance.now() - t0),
  };
}
