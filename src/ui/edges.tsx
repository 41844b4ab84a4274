/** The edge drawn along the route the layout computed, labelled with the blob's name and shape (once per blob). */
import { memo } from 'react';
import { BaseEdge, type Edge, type EdgeProps } from '@xyflow/react';
import type { GraphEdge, Point } from '../worker/types';

export type RouteFlowEdge = Edge<{ edge: GraphEdge }, 'route'>;

/** An orthogonal polyline with rounded corners. */
export function roundedPath(points: readonly Point[], radius = 8): string {
  if (points.length === 0) return '';
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i - 1];
    const c = points[i];
    const n = points[i + 1];
    const r = Math.min(radius, Math.hypot(c.x - p.x, c.y - p.y) / 2, Math.hypot(n.x - c.x, n.y - c.y) / 2);
    const a = towards(c, p, r);
    const b = towards(c, n, r);
    d += ` L${a.x},${a.y} Q${c.x},${c.y} ${b.x},${b.y}`;
  }
  const last = points[points.length - 1];
  return `${d} L${last.x},${last.y}`;
}

function towards(from: Point, to: Point, dist: number): Point {
  const len = Math.hypot(to.x - from.x, to.y - from.y) || 1;
  return { x: from.x + ((to.x - from.x) * dist) / len, y: from.y + ((to.y - from.y) * dist) / len };
}

function RouteEdgeView({ data, sourceX, sourceY, targetX, targetY, markerEnd }: EdgeProps<RouteFlowEdge>) {
  const e = data!.edge;
  const pts = e.points.length >= 2 ? e.points : [{ x: sourceX, y: sourceY }, { x: targetX, y: targetY }];
  const path = roundedPath(pts);
  const lp = e.labelPos ?? { x: (pts[0].x + pts[pts.length - 1].x) / 2, y: (pts[0].y + pts[pts.length - 1].y) / 2 };
  return (
    <BaseEdge
      path={path}
      markerEnd={markerEnd}
      className="route-edge"
      label={e.label}
      labelX={lp.x}
      labelY={lp.y}
      labelShowBg
      labelBgPadding={[4, 2]}
      labelBgBorderRadius={3}
      labelStyle={{ fontSize: 10.5 }}
      labelBgStyle={{ fill: 'var(--edge-label-bg)' }}
      interactionWidth={0}
    />
  );
}

export const RouteEdge = memo(RouteEdgeView);
