/**
 * Frames around fold chains that span more than one node (a chain whose layers are all rows of one node needs
 * none: the node's badge tells). Drawn from the laid-out nodes, so the frames follow the layout.
 */
import type { ChainGroup, GraphNode } from './types';
import type { GraphModel } from './graph';

const GROUP_PAD = 9;

export function chainFrames(model: Pick<GraphModel, 'layerNode' | 'chainLabels'>, nodes: GraphNode[]): ChainGroup[] {
  const byNode = new Map(nodes.map((n) => [n.id, n]));
  const groups: ChainGroup[] = [];
  for (const [id, set] of chainMembers(model.layerNode, byNode)) {
    if (set.size < 2) continue;
    const ns = [...set].map((i) => byNode.get(i)!);
    const x0 = Math.min(...ns.map((n) => n.x)) - GROUP_PAD;
    const y0 = Math.min(...ns.map((n) => n.y)) - GROUP_PAD;
    const x1 = Math.max(...ns.map((n) => n.x + n.width)) + GROUP_PAD;
    const y1 = Math.max(...ns.map((n) => n.y + n.height)) + GROUP_PAD;
    groups.push({
      id,
      label: model.chainLabels[id] ?? id,
      nodeIds: [...set],
      x: x0,
      y: y0,
      width: x1 - x0,
      height: y1 - y0,
    });
  }
  return groups;
}

/** Chain id → the ids of the nodes that draw its layers (as the node's own layer or as one of its rows). */
function chainMembers(layerNode: Record<string, string>, byNode: Map<string, GraphNode>): Map<string, Set<string>> {
  const members = new Map<string, Set<string>>();
  for (const [layer, nodeId] of Object.entries(layerNode)) {
    const n = byNode.get(nodeId)!;
    const chain = n.layer === layer ? n.chain : n.rows.find((r) => r.layer === layer)?.chain;
    if (!chain) continue;
    let set = members.get(chain);
    if (!set) members.set(chain, (set = new Set()));
    set.add(nodeId);
  }
  return members;
}
