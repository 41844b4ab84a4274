import { useEffect, useState } from 'react';

/**
 * How many items of a long list to render now: the first `first` at once, then `step` more per frame until all
 * are there. A list of hundreds of rows (ResNet-152 has 155 chains) then never blocks the main thread in one
 * long task; the rows a user can see come first.
 */
export function useProgressive(total: number, first = 30, step = 40): number {
  const [count, setCount] = useState(() => Math.min(total, first));
  useEffect(() => {
    if (count >= total) return;
    const id = requestAnimationFrame(() => setCount((c) => Math.min(total, c + step)));
    return () => cancelAnimationFrame(id);
  }, [count, total, step]);
  // A list that shrank (or a new one) starts over from what is already shown.
  return Math.min(count, total);
}
