/** Blob values as numbers, and new blob data in a blob's own dtype. */
import { decodeHalf, encodeHalf, type BlobDType, type BlobInfo } from '../caffemodel';
import type { RowWeights } from './reference';

/** The blob's values as a float array (fp16 decoded; float32/float64 returned as they are, without a copy). */
export function blobFloats(b: BlobInfo): Float32Array | Float64Array {
  return b.dtype === 'float16' ? decodeHalf(b.data as Uint16Array) : (b.data as Float32Array | Float64Array);
}

/** float64 values → a typed array of the given dtype (rounded as the file stores them). */
export function toDType(values: Float64Array, dtype: BlobDType): Float32Array | Float64Array | Uint16Array {
  switch (dtype) {
    case 'float64':
      return values;
    case 'float32':
      return Float32Array.from(values);
    case 'float16':
      return encodeHalf(values);
  }
}

/** Stored values read back as float64, as the engine will see them. */
export function fromDType(data: Float32Array | Float64Array | Uint16Array, dtype: BlobDType): ArrayLike<number> {
  return dtype === 'float16' ? decodeHalf(data as Uint16Array) : (data as Float32Array | Float64Array);
}

/**
 * A fresh float32/float64 array holding the blob's values: one bulk copy of the stored bytes (a memcpy, whatever
 * their alignment), the one allocation a fold of the blob needs — the fold then scales it in place.
 */
export function blobCopy(b: BlobInfo): Float32Array | Float64Array {
  if (b.dtype === 'float16') throw new Error('blobCopy: fp16 blobs are decoded with blobFloats.');
  const out = b.dtype === 'float64' ? new Float64Array(b.count) : new Float32Array(b.count);
  const raw = b.raw;
  if (raw && raw.byteLength === out.byteLength) new Uint8Array(out.buffer).set(raw);
  else out.set(b.data as Float32Array | Float64Array);
  return out;
}

/**
 * The blob's values row by row, for the proof: views when the stored bytes are aligned, else each row copied into
 * one reused scratch array — so reading a big unaligned blob costs a row of memory, not a copy of the blob.
 */
export function blobRows(b: BlobInfo, rowLength: number): RowWeights {
  const raw = b.raw;
  const size = b.dtype === 'float64' ? 8 : 4;
  if (b.dtype !== 'float16' && raw && raw.byteOffset % size !== 0) {
    const scratch = b.dtype === 'float64' ? new Float64Array(rowLength) : new Float32Array(rowLength);
    const bytes = new Uint8Array(scratch.buffer);
    const rowBytes = rowLength * size;
    return {
      rowLength,
      row: (r) => {
        bytes.set(raw.subarray(r * rowBytes, (r + 1) * rowBytes));
        return scratch;
      },
    };
  }
  const all = blobFloats(b);
  return { rowLength, row: (r) => all.subarray(r * rowLength, (r + 1) * rowLength) };
}

/**
 * Rows of the folded weights, made on the fly from the stored ones: element k of row r times the alpha of its
 * output channel, rounded to the blob's dtype (each product in float64, rounded once, exactly as the whole-array
 * fold and the in-place write do). Rows as the proof's forward functions read them (see RowWeights).
 */
export function scaledRows(b: BlobInfo, rowLength: number, scaleRow: RowScaler): RowWeights {
  const src = blobRows(b, rowLength);
  const out = b.dtype === 'float64' ? new Float64Array(rowLength) : new Float32Array(rowLength);
  return {
    rowLength,
    row: (r) => {
      scaleRow(r, src.row(r), out);
      return out;
    },
  };
}

/** Writes row r of the folded weights: dst[k] = src[k] · alpha[channel of (r, k)]. */
export type RowScaler = (r: number, src: ArrayLike<number>, dst: Float32Array | Float64Array) => void;

/**
 * Fold a float32/float64 blob where it is stored: the rows the proof read (scaledRows, the same RowScaler), each
 * written back over the original bytes.
 */
export function scaleInPlace(b: BlobInfo, rowLength: number, scaleRow: RowScaler): void {
  const raw = b.raw;
  if (!raw || b.dtype === 'float16')
    throw new Error('scaleInPlace: only a packed float32/float64 blob can be folded in place.');
  if (!(rowLength > 0)) return; // nothing stored (a blob of no values); never loop on empty rows
  const folded = scaledRows(b, rowLength, scaleRow);
  const rowBytes = rowLength * (b.dtype === 'float64' ? 8 : 4);
  for (let r = 0, at = 0; at < raw.byteLength; r++, at += rowBytes) {
    const row = folded.row(r) as Float32Array | Float64Array;
    raw.set(new Uint8Array(row.buffer, row.byteOffset, rowBytes), at);
  }
}
