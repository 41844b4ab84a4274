/**
 * The binary NetParameter (.caffemodel) read at the wire level: layers with their names, types, bottoms, tops and
 * blobs, the blob data as typed arrays over the file's bytes (a view when aligned, else one bulk copy), and the
 * byte span of every layer so the writer can copy what does not change. Unknown fields stay in those bytes.
 */
import { caffeError, isCaffeFoldError, type ErrorParams } from '../errors';

/** The errors of a caffemodel's bytes, each at a byte offset. */
type WireCode = 'caffemodel-truncated' | 'caffemodel-invalid' | 'caffemodel-wiretype' | 'caffemodel-unsupported';
import { V1_TYPE_NAMES as V1_TO_V2, v1TypeName } from '../schema/v1';
import { ENUM, FIELD } from '../schema/fields';

/** Protobuf's wire types (the low 3 bits of a tag). */
export const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

const N = FIELD.NetParameter;
const B = FIELD.BlobProto;
/** BlobProto's legacy 4-D dims, in the order of BlobInfo.shape. */
export const LEGACY_DIMS: readonly number[] = [B.num, B.channels, B.height, B.width];
/** The NetParameter field of a layer: `layer` (LayerParameter) or the old `layers` (V1LayerParameter). */
export type LayerField = typeof N.layer | typeof N.layers;

export interface Span {
  start: number;
  end: number;
}
export type BlobDType = 'float32' | 'float64' | 'float16';
export interface BlobInfo {
  dtype: BlobDType;
  /** BlobShape dims if present, else the legacy num/channels/height/width as stored; [] if none. */
  shape: number[];
  shapeKind: 'shape' | 'legacy' | 'none';
  /**
   * The values (Uint16Array holds raw fp16 bits): a view over the file's bytes when they are aligned, else a fresh
   * copy on each access — read it once into a local.
   */
  data: Float32Array | Float64Array | Uint16Array;
  /**
   * The stored bytes of the values (little-endian, the dtype's size each), a view over the file, when they are one
   * packed run (always, in files written by Caffe); undefined for unpacked or split data. Not enumerable.
   */
  readonly raw?: Uint8Array;
  count: number;
  /** Byte span of this BlobProto's payload in model.bytes. */
  span: Span;
}
export interface ModelLayer {
  /** Order in the file among layer + layers. */
  index: number;
  field: LayerField;
  name: string;
  /** V2 type string; for V1 layers the mapped V2 name. */
  type: string;
  v1Type?: string;
  bottoms: string[];
  tops: string[];
  blobs: BlobInfo[];
  /** The whole field: tag + length + payload. */
  span: Span;
  payload: Span;
}
export interface CaffeModel {
  bytes: Uint8Array;
  file?: string;
  name?: string;
  layers: ModelLayer[];
}

const utf8 = new TextDecoder('utf-8');

/** A cursor over a range of bytes, with every length checked against what remains. */
export class Wire {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
    readonly file?: string,
  ) {
    this.pos = start;
  }

  /** Throw the error of `code` at byte `at`; its message is made here, never on the way. */
  fail<C extends WireCode>(code: C, params: ErrorParams<C>, at = this.pos): never {
    throw caffeError(code, params, { kind: 'binary', file: this.file, offset: at });
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    const b = this.bytes;
    let result = 0;
    let mul = 1;
    const start = this.pos;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('caffemodel-truncated', { part: 'varint' }, start);
      const c = b[this.pos++];
      result += (c & 0x7f) * mul;
      if (c < 0x80) return result;
      mul *= 128;
    }
    return this.fail('caffemodel-invalid', { why: 'long-varint' }, start);
  }

  /** Tag: field number and wire type. */
  tag(): { field: number; wire: number; at: number } {
    const at = this.pos;
    const t = this.varint();
    const field = Math.floor(t / 8);
    const wire = t & 7;
    if (field === 0) this.fail('caffemodel-invalid', { why: 'field-zero' }, at);
    return { field, wire, at };
  }

  /** A length-delimited payload's span, checked against the bytes that remain. */
  len(): Span {
    const at = this.pos;
    const n = this.varint();
    if (n > this.end - this.pos) {
      this.fail('caffemodel-truncated', { part: 'field', bytes: n, remain: this.end - this.pos }, at);
    }
    const s = { start: this.pos, end: this.pos + n };
    this.pos += n;
    return s;
  }

  skip(wire: number, at: number): void {
    switch (wire) {
      case WIRE.VARINT:
        this.varint();
        return;
      case WIRE.I64:
        if (this.end - this.pos < 8) this.fail('caffemodel-truncated', { part: 'fixed64' }, at);
        this.pos += 8;
        return;
      case WIRE.LEN:
        this.len();
        return;
      case WIRE.I32:
        if (this.end - this.pos < 4) this.fail('caffemodel-truncated', { part: 'fixed32' }, at);
        this.pos += 4;
        return;
      default:
        this.fail('caffemodel-wiretype', { wire }, at);
    }
  }

  string(s: Span): string {
    return utf8.decode(this.bytes.subarray(s.start, s.end));
  }
}

function typedView<T extends Float32Array | Float64Array | Uint16Array>(
  Ctor: { new (b: ArrayBufferLike, o: number, n: number): T; BYTES_PER_ELEMENT: number },
  bytes: Uint8Array,
  s: Span,
): T {
  const size = Ctor.BYTES_PER_ELEMENT;
  const n = Math.floor((s.end - s.start) / size);
  const off = bytes.byteOffset + s.start;
  if (off % size === 0) return new Ctor(bytes.buffer, off, n);
  // One bulk copy into fresh, aligned memory (not `bytes.slice`: on a Node Buffer that is a view, not a copy).
  const copy = new Uint8Array(n * size);
  copy.set(bytes.subarray(s.start, s.start + n * size));
  return new Ctor(copy.buffer, 0, n);
}

function concatTyped<T extends Float32Array | Float64Array>(parts: T[], Ctor: new (n: number) => T): T {
  if (parts.length === 1) return parts[0];
  const out = new Ctor(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p as never, o);
    o += p.length;
  }
  return out;
}

const T = ENUM.Type;

/** What a BlobProto's fields say. Packed data is kept as spans, turned into typed arrays only when asked for. */
interface BlobFields {
  legacy: number[];
  dims?: number[];
  floats: (Span | Float32Array)[];
  doubles: (Span | Float64Array)[];
  raw?: Span;
  rawType?: number;
}

/** One pass over a BlobProto's fields; only unpacked values (rare, and not contiguous) are copied out. */
function scanBlob(r: Wire): BlobFields {
  const f: BlobFields = { legacy: [], floats: [], doubles: [] };
  while (!r.done) {
    const { field, wire, at } = r.tag();
    if (LEGACY_DIMS.includes(field) && wire === WIRE.VARINT) {
      f.legacy[LEGACY_DIMS.indexOf(field)] = r.varint();
    } else if (field === B.data && wire === WIRE.LEN) {
      const s = r.len();
      if ((s.end - s.start) % 4) r.fail('caffemodel-invalid', { why: 'packed', type: 'float' }, s.start);
      f.floats.push(s);
    } else if (field === B.data && wire === WIRE.I32) {
      f.floats.push(unpackedFloats(r, at));
    } else if (field === B.double_data && wire === WIRE.LEN) {
      const s = r.len();
      if ((s.end - s.start) % 8) r.fail('caffemodel-invalid', { why: 'packed', type: 'double' }, s.start);
      f.doubles.push(s);
    } else if (field === B.double_data && wire === WIRE.I64) {
      if (r.end - r.pos < 8) r.fail('caffemodel-truncated', { part: 'double' }, at);
      f.doubles.push(Float64Array.of(new DataView(r.bytes.buffer, r.bytes.byteOffset + r.pos, 8).getFloat64(0, true)));
      r.pos += 8;
    } else if (field === B.shape && wire === WIRE.LEN) {
      f.dims = shapeDims(r, r.len());
    } else if (field === B.raw_data_type && wire === WIRE.VARINT) {
      f.rawType = r.varint();
    } else if (field === B.raw_data && wire === WIRE.LEN) {
      f.raw = r.len();
    } else {
      r.skip(wire, at);
    }
  }
  return f;
}

/** Unpacked repeated float: the run of its fields from the tag at `at` on, gathered; leaves r after the run. */
function unpackedFloats(r: Wire, at: number): Float32Array {
  const vals: number[] = [];
  r.pos = at;
  while (!r.done) {
    const p = r.pos;
    const t = r.tag();
    if (t.field !== B.data || t.wire !== WIRE.I32) {
      r.pos = p;
      break;
    }
    if (r.end - r.pos < 4) r.fail('caffemodel-truncated', { part: 'float' }, t.at);
    vals.push(new DataView(r.bytes.buffer, r.bytes.byteOffset + r.pos, 4).getFloat32(0, true));
    r.pos += 4;
  }
  return Float32Array.from(vals);
}

/** A BlobShape's dims, packed or not. */
function shapeDims(r: Wire, s: Span): number[] {
  const sr = new Wire(r.bytes, s.start, s.end, r.file);
  const dims: number[] = [];
  while (!sr.done) {
    const t = sr.tag();
    if (t.field === FIELD.BlobShape.dim && t.wire === WIRE.LEN) {
      const p = sr.len();
      const pr = new Wire(sr.bytes, p.start, p.end, sr.file);
      while (!pr.done) dims.push(pr.varint());
    } else if (t.field === FIELD.BlobShape.dim && t.wire === WIRE.VARINT) dims.push(sr.varint());
    else sr.skip(t.wire, t.at);
  }
  return dims;
}

/** How a blob's values are stored: dtype, count, how to make the typed array, and the span of its one packed run. */
interface BlobValues {
  dtype: BlobDType;
  count: number;
  make: () => Float32Array | Float64Array | Uint16Array;
  rawSpan?: Span;
}

/** The parts of float or double data as one typed array: views over `bytes` where the parts are spans. */
function gather<T extends Float32Array | Float64Array>(
  bytes: Uint8Array,
  parts: (Span | T)[],
  Ctor: typeof Float32Array | typeof Float64Array,
): T {
  return concatTyped(
    parts.map((p) => ('start' in p && !ArrayBuffer.isView(p) ? (typedView(Ctor as never, bytes, p) as T) : (p as T))),
    Ctor as unknown as new (n: number) => T,
  );
}

const countOf = (parts: (Span | Float32Array | Float64Array)[], size: number) =>
  parts.reduce((n, p) => n + (ArrayBuffer.isView(p) ? p.length : (p.end - p.start) / size), 0);

/** The span of data stored as one packed run, else undefined. */
const single = (parts: (Span | Float32Array | Float64Array)[]) =>
  parts.length === 1 && !ArrayBuffer.isView(parts[0]) ? (parts[0] as Span) : undefined;

/** Which of data, double_data and raw_data holds the values (the first present, in that order), and how to read them. */
function blobValues(r: Wire, f: BlobFields): BlobValues {
  const bytes = r.bytes;
  if (f.floats.length)
    return {
      dtype: 'float32',
      count: countOf(f.floats, 4),
      make: () => gather(bytes, f.floats, Float32Array),
      rawSpan: single(f.floats),
    };
  if (f.doubles.length)
    return {
      dtype: 'float64',
      count: countOf(f.doubles, 8),
      make: () => gather(bytes, f.doubles, Float64Array),
      rawSpan: single(f.doubles),
    };
  if (f.raw) return rawValues(r, f.raw, f.rawType);
  return { dtype: 'float32', count: 0, make: () => new Float32Array(0) };
}

/** raw_data (the fp16 extension) in its raw_data_type: fp16 bits, double or float; integer types are refused. */
function rawValues(r: Wire, span: Span, rawType: number | undefined): BlobValues {
  const bytes = r.bytes;
  const size = rawType === T.DOUBLE ? 8 : rawType === T.FLOAT16 ? 2 : 4;
  if ((span.end - span.start) % size)
    r.fail('caffemodel-invalid', { why: 'raw-data', bytes: span.end - span.start, size }, span.start);
  const count = (span.end - span.start) / size;
  if (rawType === T.FLOAT16)
    return { dtype: 'float16', count, make: () => typedView(Uint16Array, bytes, span), rawSpan: span };
  if (rawType === T.DOUBLE)
    return { dtype: 'float64', count, make: () => typedView(Float64Array, bytes, span), rawSpan: span };
  if (rawType === undefined || rawType === T.FLOAT)
    return { dtype: 'float32', count, make: () => typedView(Float32Array, bytes, span), rawSpan: span };
  return r.fail('caffemodel-unsupported', { rawType }, span.start);
}

/**
 * The BlobInfo, its typed array made on use: a view over the file when aligned (kept), else one bulk copy (not kept,
 * so a fold holds at most the copy of the blob it is working on). Loading a model to look at it copies nothing; the
 * writer copies unchanged layers as byte ranges and never asks.
 */
function lazyBlob(bytes: Uint8Array, f: BlobFields, v: BlobValues, span: Span): BlobInfo {
  const shape = f.dims ?? (f.legacy.length ? f.legacy.map((d) => d ?? 1) : []);
  const blob = {
    dtype: v.dtype,
    shape,
    shapeKind: f.dims ? 'shape' : f.legacy.length ? 'legacy' : 'none',
    count: v.count,
    span,
  } as BlobInfo;
  const { make, rawSpan } = v;
  let view: Float32Array | Float64Array | Uint16Array | undefined;
  Object.defineProperty(blob, 'raw', {
    enumerable: false,
    get: () => (rawSpan ? bytes.subarray(rawSpan.start, rawSpan.end) : undefined),
  });
  Object.defineProperty(blob, 'data', {
    enumerable: true,
    get: () => {
      if (view) return view;
      const d = make();
      if (d.buffer === bytes.buffer) view = d;
      return d;
    },
  });
  return blob;
}

function readBlob(w: Wire, span: Span): BlobInfo {
  const r = new Wire(w.bytes, span.start, span.end, w.file);
  const fields = scanBlob(r);
  return lazyBlob(r.bytes, fields, blobValues(r, fields), span);
}

function readLayer(w: Wire, span: Span, payload: Span, field: LayerField, index: number): ModelLayer {
  const r = new Wire(w.bytes, payload.start, payload.end, w.file);
  const v1 = field === N.layers;
  const F = v1 ? FIELD.V1LayerParameter : FIELD.LayerParameter;
  let name = '';
  let type = '';
  let v1Type: string | undefined;
  const bottoms: string[] = [];
  const tops: string[] = [];
  const blobs: BlobInfo[] = [];
  while (!r.done) {
    const t = r.tag();
    if (t.field === F.name && t.wire === WIRE.LEN) name = r.string(r.len());
    else if (t.field === F.type && !v1 && t.wire === WIRE.LEN) type = r.string(r.len());
    else if (t.field === F.type && v1 && t.wire === WIRE.VARINT) {
      v1Type = v1TypeName(r.varint());
      type = v1Type;
    } else if (t.field === F.bottom && t.wire === WIRE.LEN) bottoms.push(r.string(r.len()));
    else if (t.field === F.top && t.wire === WIRE.LEN) tops.push(r.string(r.len()));
    else if (t.field === F.blobs && t.wire === WIRE.LEN) blobs.push(readBlob(r, r.len()));
    else r.skip(t.wire, t.at);
  }
  if (v1Type !== undefined) type = V1_TO_V2[v1Type] ?? v1Type;
  return { index, field, name, type, v1Type, bottoms, tops, blobs, span, payload };
}

/** Read a caffemodel. Throws CaffeFoldError with the byte offset of what is wrong. */
export function readCaffemodel(bytes: Uint8Array, file?: string): CaffeModel {
  if (bytes.length === 0) throw caffeError('file-empty', {}, { kind: 'file', file });
  if (!looksLikeCaffemodel(bytes, 1)) {
    throw caffeError('caffemodel-not-binary', {}, { kind: 'binary', file, offset: 0 });
  }
  const w = new Wire(bytes, 0, bytes.length, file);
  const layers: ModelLayer[] = [];
  let name: string | undefined;
  while (!w.done) {
    const { field, wire, at } = w.tag();
    if ((field === N.layer || field === N.layers) && wire === WIRE.LEN) {
      const payload = w.len();
      layers.push(readLayer(w, { start: at, end: payload.end }, payload, field, layers.length));
    } else if (field === N.name && wire === WIRE.LEN) name = w.string(w.len());
    else w.skip(wire, at);
  }
  return { bytes, file, name, layers };
}

/** Every NetParameter field and its wire type (input_dim may also come packed). */
const NET_WIRE: Record<number, number> = {
  [N.name]: WIRE.LEN,
  [N.layers]: WIRE.LEN,
  [N.input]: WIRE.LEN,
  [N.input_dim]: WIRE.VARINT,
  [N.force_backward]: WIRE.VARINT,
  [N.state]: WIRE.LEN,
  [N.debug_info]: WIRE.VARINT,
  [N.input_shape]: WIRE.LEN,
  [N.layer]: WIRE.LEN,
};

/**
 * A cheap sniff: the first fields parse as NetParameter fields with the right wire types, the first of them one
 * that starts a net (name, layers, layer or input).
 */
export function looksLikeCaffemodel(bytes: Uint8Array, fieldsToCheck = 4): boolean {
  const expected = NET_WIRE;
  const w = new Wire(bytes, 0, bytes.length);
  try {
    for (let i = 0; i < fieldsToCheck && !w.done; i++) {
      const { field, wire, at } = w.tag();
      if (expected[field] === undefined || (expected[field] !== wire && !(field === N.input_dim && wire === WIRE.LEN)))
        return false;
      if (i === 0 && field !== N.name && field !== N.layers && field !== N.layer && field !== N.input) return false;
      w.skip(wire, at);
    }
    return true;
  } catch (e) {
    // A model cut short still sniffs as a caffemodel if its first tag was right: reading it then says where it ends.
    return isCaffeFoldError(e) && e.code === 'caffemodel-truncated' && w.pos > 0 && bytes.length > 2;
  }
}
