/**
 * Writing a caffemodel as a list of chunks: every unchanged byte range is a view of the input (no copy); only the
 * edited layers are re-encoded, keeping their other fields — unknown ones included — in their original order.
 */
import {
  LEGACY_DIMS,
  WIRE,
  Wire,
  type BlobDType,
  type BlobInfo,
  type CaffeModel,
  type ModelLayer,
  type Span,
} from './read';
import { ENUM, FIELD } from '../schema/fields';

const B = FIELD.BlobProto;

export interface NewBlob {
  data: Float32Array | Float64Array | Uint16Array;
  dtype: BlobDType;
  shape: number[];
  /** Copy this blob's shape / legacy dims / raw_data_type fields verbatim and replace only its data. */
  like?: BlobInfo;
  /** Write the shape as old Caffe did: the legacy num/channels/height/width fields (padded with leading 1s). */
  legacy?: boolean;
}

export interface LayerEdit {
  /** The layer's complete blob list after the edit: a number keeps original blob i byte for byte. */
  blobs?: (number | NewBlob)[];
  /** Set a varint inside one of the layer's parameter messages if that message exists (V2 numbers; V1 mapped). */
  setVarint?: { paramField: number; subField: number; value: number }[];
  rename?: { tops?: string[]; bottoms?: string[] };
}

/** Grows a list of chunks; small writes are gathered into one buffer, big payloads are appended as views. */
export class ChunkWriter {
  readonly chunks: Uint8Array[] = [];
  private buf = new Uint8Array(256);
  private n = 0;
  size = 0;

  private flush() {
    if (this.n) {
      this.chunks.push(this.buf.slice(0, this.n));
      this.n = 0;
    }
  }
  byte(b: number) {
    if (this.n === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = b;
    this.size++;
  }
  varint(v: number) {
    while (v >= 0x80) {
      this.byte((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }
  tag(field: number, wire: number) {
    this.varint(field * 8 + wire);
  }
  /** Append bytes; large ones as a view without copying. */
  bytes(b: Uint8Array) {
    if (b.length < 64) for (let i = 0; i < b.length; i++) this.byte(b[i]);
    else {
      this.flush();
      this.chunks.push(b);
      this.size += b.length;
    }
  }
  /** A length-delimited field whose payload is another writer's chunks. */
  message(field: number, inner: ChunkWriter) {
    this.tag(field, WIRE.LEN);
    this.varint(inner.size);
    for (const c of inner.done()) this.bytes(c);
  }
  string(field: number, s: string) {
    const b = new TextEncoder().encode(s);
    this.tag(field, WIRE.LEN);
    this.varint(b.length);
    this.bytes(b);
  }
  done(): Uint8Array[] {
    this.flush();
    return this.chunks;
  }
}

/** Concatenate chunks into one array (for small outputs; big ones stay chunks). */
export function concatChunks(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

const asBytes = (a: Float32Array | Float64Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** A BlobProto payload for new data. */
export function encodeBlob(b: NewBlob, src?: Uint8Array): ChunkWriter {
  const w = new ChunkWriter();
  const data = () => {
    if (b.dtype === 'float32') w.tag(B.data, WIRE.LEN);
    else if (b.dtype === 'float64') w.tag(B.double_data, WIRE.LEN);
    else w.tag(B.raw_data, WIRE.LEN);
    w.varint(b.data.byteLength);
    w.bytes(asBytes(b.data));
  };
  if (b.like && src) {
    // Keep every field of the template but its data; the new data goes where the old data was.
    const r = new Wire(src, b.like.span.start, b.like.span.end);
    let wrote = false;
    let sawRawType = false;
    while (!r.done) {
      const start = r.pos;
      const { field, wire, at } = r.tag();
      r.skip(wire, at);
      if (field === B.data || field === B.double_data || field === B.raw_data) {
        if (!wrote) {
          if (b.dtype === 'float16' && !sawRawType && !hasField(src, b.like.span, B.raw_data_type)) {
            w.tag(B.raw_data_type, WIRE.VARINT);
            w.varint(ENUM.Type.FLOAT16);
          }
          data();
          wrote = true;
        }
        continue;
      }
      if (field === B.raw_data_type) sawRawType = true;
      w.bytes(src.subarray(start, r.pos));
    }
    if (!wrote) data();
    return w;
  }
  if (b.legacy && b.shape.length <= 4) {
    [1, 1, 1, 1, ...b.shape].slice(-4).forEach((d, i) => {
      w.tag(LEGACY_DIMS[i], WIRE.VARINT);
      w.varint(d);
    });
  } else {
    const dims = new ChunkWriter();
    for (const d of b.shape) dims.varint(d);
    const shape = new ChunkWriter();
    shape.message(FIELD.BlobShape.dim, dims);
    w.message(B.shape, shape);
  }
  if (b.dtype === 'float16') {
    w.tag(B.raw_data_type, WIRE.VARINT);
    w.varint(ENUM.Type.FLOAT16);
  }
  data();
  return w;
}

function hasField(src: Uint8Array, span: Span, f: number): boolean {
  const r = new Wire(src, span.start, span.end);
  while (!r.done) {
    const { field, wire, at } = r.tag();
    if (field === f) return true;
    r.skip(wire, at);
  }
  return false;
}

/** LayerEdit.setVarint's parameter fields (V2 numbers) → their V1LayerParameter numbers. */
const V1_PARAM: Record<number, number> = {
  [FIELD.LayerParameter.convolution_param]: FIELD.V1LayerParameter.convolution_param,
  [FIELD.LayerParameter.inner_product_param]: FIELD.V1LayerParameter.inner_product_param,
};

function encodeParam(src: Uint8Array, payload: Span, sets: { subField: number; value: number }[]): ChunkWriter {
  const w = new ChunkWriter();
  const r = new Wire(src, payload.start, payload.end);
  const done = new Set<number>();
  while (!r.done) {
    const start = r.pos;
    const { field, wire, at } = r.tag();
    r.skip(wire, at);
    const s = sets.find((x) => x.subField === field);
    if (s) {
      if (!done.has(field)) {
        w.tag(field, WIRE.VARINT);
        w.varint(s.value);
        done.add(field);
      }
      continue;
    }
    w.bytes(src.subarray(start, r.pos));
  }
  for (const s of sets) {
    if (!done.has(s.subField)) {
      w.tag(s.subField, WIRE.VARINT);
      w.varint(s.value);
    }
  }
  return w;
}

export function encodeLayer(model: CaffeModel, layer: ModelLayer, edit: LayerEdit): ChunkWriter {
  const src = model.bytes;
  const v1 = layer.field === FIELD.NetParameter.layers;
  const F = v1 ? FIELD.V1LayerParameter : FIELD.LayerParameter;
  const params = new Map<number, { subField: number; value: number }[]>();
  for (const s of edit.setVarint ?? []) {
    const f = v1 ? (V1_PARAM[s.paramField] ?? s.paramField) : s.paramField;
    params.set(f, [...(params.get(f) ?? []), s]);
  }
  const w = new ChunkWriter();
  const writeBlobs = () => {
    for (const b of edit.blobs ?? []) {
      if (typeof b === 'number') {
        const info = layer.blobs[b];
        w.tag(F.blobs, WIRE.LEN);
        w.varint(info.span.end - info.span.start);
        w.bytes(src.subarray(info.span.start, info.span.end));
      } else w.message(F.blobs, encodeBlob(b, src));
    }
  };
  let blobsWritten = !edit.blobs;
  let top = 0;
  let bottom = 0;
  const r = new Wire(src, layer.payload.start, layer.payload.end, model.file);
  while (!r.done) {
    const start = r.pos;
    const { field, wire, at } = r.tag();
    if (wire === WIRE.LEN && field === F.blobs && edit.blobs) {
      r.skip(wire, at);
      if (!blobsWritten) {
        writeBlobs();
        blobsWritten = true;
      }
      continue;
    }
    if (wire === WIRE.LEN && field === F.top && edit.rename?.tops && top < edit.rename.tops.length) {
      r.skip(wire, at);
      w.string(field, edit.rename.tops[top++]);
      continue;
    }
    if (wire === WIRE.LEN && field === F.bottom && edit.rename?.bottoms && bottom < edit.rename.bottoms.length) {
      r.skip(wire, at);
      w.string(field, edit.rename.bottoms[bottom++]);
      continue;
    }
    if (wire === WIRE.LEN && params.has(field)) {
      const p = r.len();
      w.message(field, encodeParam(src, p, params.get(field)!));
      continue;
    }
    r.skip(wire, at);
    w.bytes(src.subarray(start, r.pos));
  }
  if (!blobsWritten) writeBlobs();
  return w;
}

/**
 * The model with the edits applied (null removes a layer), as chunks. With no edits: one chunk, the input itself.
 */
export function writeCaffemodel(model: CaffeModel, edits: Map<number, LayerEdit | null>): Uint8Array[] {
  const src = model.bytes;
  if (edits.size === 0) return [src];
  const out: Uint8Array[] = [];
  let at = 0;
  const layers = [...model.layers].sort((a, b) => a.span.start - b.span.start);
  for (const l of layers) {
    if (!edits.has(l.index)) continue;
    if (l.span.start > at) out.push(src.subarray(at, l.span.start));
    at = l.span.end;
    const e = edits.get(l.index);
    if (e === null || e === undefined) continue;
    const w = new ChunkWriter();
    w.message(l.field, encodeLayer(model, l, e));
    out.push(...w.done());
  }
  if (at < src.length) out.push(src.subarray(at));
  return out;
}
