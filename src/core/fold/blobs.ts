/** Blob values as numbers, and new blob data in a blob's own dtype. */
import { decodeHalf, encodeHalf, type BlobDType, type BlobInfo } from '../caffemodel';

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
