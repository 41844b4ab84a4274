/**
 * The graph canvas's viewport: the view a graph opens with, centring on a focused node, and the keys that zoom
 * and pan. GraphView wires them to React Flow.
 */
import { useCallback, useEffect, useLayoutEffect, useRef, type KeyboardEvent } from 'react';
import type { ReactFlowInstance } from '@xyflow/react';
import { useAppStore } from '../store/store';
import type { GraphLayout } from '../worker/types';

const PAN_STEP = 80;

/**
 * The view a graph opens with (also `fit`, for the 0 key), and the ref callback for the canvas's wrapper. The
 * canvas size comes from a ResizeObserver (reported after layout), so setting the view never forces a synchronous
 * layout of the page; the view of a new graph is set before its first paint.
 */
export function useFitView(
  layout: GraphLayout | undefined,
  rf: ReactFlowInstance,
): { wrapper: (el: HTMLDivElement | null) => void; fit: () => void } {
  const size = useRef<{ w: number; h: number } | undefined>(undefined);
  const fit = useCallback(() => {
    if (!layout || !size.current) return;
    const { w, h } = size.current;
    const scale = Math.min(w / (layout.width + 40), h / (layout.height + 40));
    if (scale >= 0.55) {
      const z = Math.min(1.1, scale * 0.92);
      void rf.setViewport({ x: (w - layout.width * z) / 2, y: (h - layout.height * z) / 2, zoom: z });
    } else {
      // A tall net: start readable at its top, centred, rather than as an unreadable thumbnail.
      const z = Math.max(0.55, Math.min(1, w / (layout.width + 40)));
      void rf.setViewport({ x: Math.max(16, (w - layout.width * z) / 2), y: 16, zoom: z });
    }
  }, [layout, rf]);
  // The observer is made once; it calls the latest `fit` when the first size arrives.
  const fitRef = useRef(fit);
  fitRef.current = fit;
  const observer = useRef<ResizeObserver | undefined>(undefined);
  const wrapper = useCallback((el: HTMLDivElement | null) => {
    observer.current?.disconnect();
    observer.current = undefined;
    if (!el) return;
    observer.current = new ResizeObserver(([entry]) => {
      const first = !size.current;
      size.current = { w: entry.contentRect.width, h: entry.contentRect.height };
      if (first) fitRef.current();
    });
    observer.current.observe(el);
  }, []);
  useLayoutEffect(fit, [fit]);
  return { wrapper, fit };
}

/** Centre the view on the node the store asks to focus (a search hit, a layer picked in the side panel). */
export function useFocusNode(layout: GraphLayout | undefined, rf: ReactFlowInstance) {
  const focus = useAppStore((s) => s.focus);
  useEffect(() => {
    if (!focus || !layout) return;
    const n = layout.nodes.find((x) => x.id === focus.nodeId);
    if (!n) return;
    void rf.setCenter(n.x + n.width / 2, n.y + n.height / 2, { zoom: Math.max(rf.getZoom(), 1), duration: 350 });
  }, [focus, layout, rf]);
}

/** The canvas's key handler: + and − zoom, the arrow keys pan, 0 fits; keys typed into a control are left alone. */
export function useViewportKeys(rf: ReactFlowInstance, fit: () => void): (e: KeyboardEvent<HTMLDivElement>) => void {
  return useCallback(
    (e: KeyboardEvent<HTMLDivElement>) => {
      const t = e.target as HTMLElement;
      if (t.closest('input, textarea, select, button')) return;
      if (moveViewport(rf, e.key, fit)) e.preventDefault();
    },
    [rf, fit],
  );
}

/** Zoom or pan for one key; false if the key does not move the view. */
function moveViewport(rf: ReactFlowInstance, key: string, fit: () => void): boolean {
  const v = rf.getViewport();
  switch (key) {
    case '+':
    case '=':
      void rf.zoomIn({ duration: 150 });
      return true;
    case '-':
    case '_':
      void rf.zoomOut({ duration: 150 });
      return true;
    case 'ArrowUp':
      void rf.setViewport({ ...v, y: v.y + PAN_STEP }, { duration: 100 });
      return true;
    case 'ArrowDown':
      void rf.setViewport({ ...v, y: v.y - PAN_STEP }, { duration: 100 });
      return true;
    case 'ArrowLeft':
      void rf.setViewport({ ...v, x: v.x + PAN_STEP }, { duration: 100 });
      return true;
    case 'ArrowRight':
      void rf.setViewport({ ...v, x: v.x - PAN_STEP }, { duration: 100 });
      return true;
    case '0':
      fit();
      return true;
    default:
      return false;
  }
}
