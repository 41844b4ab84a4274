/** Weight statistics, computed in the worker. */
import type { TensorStats } from './types';

/** min/max/mean/std (population) over finite values; non-finite values are counted apart. Two-pass for stability. */
export function tensorStats(values: ArrayLike<number>): TensorStats {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  let nonFinite = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      nonFinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  const mean = n ? sum / n : NaN;
  let ss = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) ss += (v - mean) * (v - mean);
  }
  return {
    count: values.length,
    min: n ? min : NaN,
    max: n ? max : NaN,
    mean,
    std: n ? Math.sqrt(ss / n) : NaN,
    nonFinite,
  };
}

/** What each blob of a layer means, by layer type. */
export function blobRole(type: string, index: number): string {
  switch (type) {
    case 'BatchNorm':
      return ['mean × factor', 'variance × factor', 'factor'][index] ?? `blob ${index}`;
    case 'Scale':
      return ['gamma', 'beta'][index] ?? `blob ${index}`;
    case 'Bias':
      return index === 0 ? 'bias' : `blob ${index}`;
    case 'PReLU':
      return index === 0 ? 'slope' : `blob ${index}`;
    default:
      return ['weights', 'bias'][index] ?? `blob ${index}`;
  }
}
