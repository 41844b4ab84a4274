/**
 * A caffemodel encoder for tests, scripts and the bundled sample: layers with names, types, bottoms, tops, blobs
 * and layer parameters (encoded through our protobufjs schema of caffe.proto).
 */
import { ChunkWriter, concatChunks, encodeBlob, type NewBlob } from './write';
import { encodeLayerParams } from '../schema';
import { V1_LAYER_TYPES, V1_TYPE_NAMES } from '../schema/v1';

export interface EncodeLayer {
  name: string;
  type: string;
  bottoms?: string[];
  tops?: string[];
  /** Write as a V1 `layers` entry (type as the V1 enum). */
  v1?: boolean;
  blobs?: NewBlob[];
  /** Parameter messages by field name, e.g. { convolution_param: { num_output: 8, bias_term: false } }. */
  params?: Record<string, unknown>;
}

export function encodeCaffemodel(net: { name?: string; layers: EncodeLayer[] }): Uint8Array {
  const w = new ChunkWriter();
  if (net.name !== undefined) w.string(1, net.name);
  for (const l of net.layers) {
    const lw = new ChunkWriter();
    if (l.v1) {
      for (const b of l.bottoms ?? []) lw.string(2, b);
      for (const t of l.tops ?? []) lw.string(3, t);
      lw.string(4, l.name);
      const v1Name = Object.keys(V1_TYPE_NAMES).find((k) => V1_TYPE_NAMES[k] === l.type) ?? l.type;
      const num = Object.entries(V1_LAYER_TYPES).find(([, v]) => v === v1Name)?.[0];
      if (num === undefined) throw new Error(`No V1 enum for layer type ${l.type}.`);
      lw.tag(5, 0);
      lw.varint(Number(num));
      for (const b of l.blobs ?? []) lw.message(6, encodeBlob(b));
      if (l.params) for (const c of encodeLayerParams(l.params, true)) lw.bytes(c);
    } else {
      lw.string(1, l.name);
      lw.string(2, l.type);
      for (const b of l.bottoms ?? []) lw.string(3, b);
      for (const t of l.tops ?? []) lw.string(4, t);
      for (const b of l.blobs ?? []) lw.message(7, encodeBlob(b));
      if (l.params) for (const c of encodeLayerParams(l.params, false)) lw.bytes(c);
    }
    w.message(l.v1 ? 2 : 100, lw);
  }
  return concatChunks(w.done());
}
