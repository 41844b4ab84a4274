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

/** Label text: 10.5 px monospace, so its width is known without measuring (no getBBox, no forced layout). */
const LABEL_FONT = 10.5;
const LABEL_CHAR = LABEL_FONT * 0.6;

function RouteEdgeView({ data, sourceX, sourceY, targetX, targetY, markerEnd }: EdgeProps<RouteFlowEdge>) {
  const e = data!.edge;
  const pts =
    e.points.length >= 2
      ? e.points
      : [
          { x: sourceX, y: sourceY },
          { x: targetX, y: targetY },
        ];
  const path = roundedPath(pts);
  const lp = e.labelPos ?? { x: (pts[0].x + pts[pts.length - 1].x) / 2, y: (pts[0].y + pts[pts.length - 1].y) / 2 };
  const w = e.label.length * LABEL_CHAR + 8;
  const h = LABEL_FONT + 5;
  return (
    <>
      <BaseEdge path={path} markerEnd={markerEnd} className="route-edge" interactionWidth={0} />
      {e.label && (
        <g className="route-edge-label" transform={`translate(${lp.x - w / 2} ${lp.y - h / 2})`}>
          <rect width={w} height={h} rx={3} ry={3} className="route-edge-label-bg" />
          <text x={w / 2} y={h / 2} dy="0.35em" textAnchor="middle" className="route-edge-label-text">
            {e.label}
          </text>
        </g>
      )}
    </>
  );
}

export const RouteEdge = memo(RouteEdgeView);
