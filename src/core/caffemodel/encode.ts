/**
 * A caffemodel encoder for tests, scripts and the bundled sample: layers with names, types, bottoms, tops, blobs
 * and layer parameters (encoded through our protobufjs schema of caffe.proto).
 */
import { ChunkWriter, concatChunks, encodeBlob, type NewBlob } from './write';
import { encodeLayerParams } from '../schema';
import { V1_LAYER_TYPES, V1_TYPE_NAMES } from '../schema/v1';
import { FIELD } from '../schema/fields';
import { WIRE } from './read';

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
  if (net.name !== undefined) w.string(FIELD.NetParameter.name, net.name);
  for (const l of net.layers) {
    const lw = new ChunkWriter();
    if (l.v1) {
      const F = FIELD.V1LayerParameter;
      for (const b of l.bottoms ?? []) lw.string(F.bottom, b);
      for (const t of l.tops ?? []) lw.string(F.top, t);
      lw.string(F.name, l.name);
      const v1Name = Object.keys(V1_TYPE_NAMES).find((k) => V1_TYPE_NAMES[k] === l.type) ?? l.type;
      const num = Object.entries(V1_LAYER_TYPES).find(([, v]) => v === v1Name)?.[0];
      if (num === undefined) throw new Error(`No V1 enum for layer type ${l.type}.`);
      lw.tag(F.type, WIRE.VARINT);
      lw.varint(Number(num));
      for (const b of l.blobs ?? []) lw.message(F.blobs, encodeBlob(b));
      if (l.params) for (const c of encodeLayerParams(l.params, true)) lw.bytes(c);
    } else {
      const F = FIELD.LayerParameter;
      lw.string(F.name, l.name);
      lw.string(F.type, l.type);
      for (const b of l.bottoms ?? []) lw.string(F.bottom, b);
      for (const t of l.tops ?? []) lw.string(F.top, t);
      for (const b of l.blobs ?? []) lw.message(F.blobs, encodeBlob(b));
      if (l.params) for (const c of encodeLayerParams(l.params, false)) lw.bytes(c);
    }
    w.message(l.v1 ? FIELD.NetParameter.layers : FIELD.NetParameter.layer, lw);
  }
  return concatChunks(w.done());
}
