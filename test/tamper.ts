/** Deliberately wrong folds for the whole-net check's tests. */
import { readCaffemodel } from '../src/core/caffemodel';

/** A copy of a caffemodel with the first blob (the weights) of one layer multiplied by `factor`. */
export function scaleWeights(bytes: Uint8Array, layer: string, factor: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  const l = readCaffemodel(copy).layers.find((x) => x.name === layer && x.blobs.length > 0);
  if (!l) throw new Error(`no weighted layer "${layer}"`);
  const b = l.blobs[0];
  if (b.dtype !== 'float32' || !b.raw) throw new Error(`layer "${layer}": weights are not packed float32`);
  const v = new DataView(b.raw.buffer, b.raw.byteOffset, b.raw.byteLength);
  for (let i = 0; i < b.count; i++) v.setFloat32(4 * i, v.getFloat32(4 * i, true) * factor, true);
  return copy;
}
