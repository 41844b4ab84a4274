/** Build small Caffe nets (prototxt text + caffemodel bytes) for tests, from one description. */
import { encodeCaffemodel, type BlobDType, type NewBlob } from '../src/core/caffemodel';
import { randomNormal } from '../src/core/fold/reference';

export interface TestBlob {
  shape: number[];
  values: Float64Array;
  dtype?: BlobDType;
  /** Stored with the legacy num/channels/height/width dims (padded with leading 1s), as old Caffe wrote them. */
  legacy?: boolean;
}

export interface TestLayer {
  name: string;
  type: string;
  bottoms?: string[];
  tops?: string[];
  /** Extra prototxt lines inside the layer block, e.g. 'convolution_param { num_output: 4 kernel_size: 3 }'. */
  text?: string;
  blobs?: TestBlob[];
  /** Layer parameters for the caffemodel's copy, e.g. { convolution_param: { num_output: 4, bias_term: false } }. */
  params?: Record<string, unknown>;
}

export interface TestNet {
  name?: string;
  input?: { name: string; shape: number[] };
  layers: TestLayer[];
}

export function prototxtOf(net: TestNet): string {
  const out: string[] = [`name: "${net.name ?? 'test'}"`];
  if (net.input) {
    out.push(`input: "${net.input.name}"`, `input_shape {`, ...net.input.shape.map((d) => `  dim: ${d}`), `}`);
  }
  for (const l of net.layers) {
    out.push('layer {', `  name: "${l.name}"`, `  type: "${l.type}"`);
    for (const b of l.bottoms ?? []) out.push(`  bottom: "${b}"`);
    for (const t of l.tops ?? []) out.push(`  top: "${t}"`);
    if (l.text) out.push(...l.text.split('\n').map((s) => `  ${s}`));
    out.push('}');
  }
  return out.join('\n') + '\n';
}

function toTyped(values: Float64Array, dtype: BlobDType): NewBlob['data'] {
  if (dtype === 'float64') return Float64Array.from(values);
  if (dtype === 'float32') return Float32Array.from(values);
  // fp16: round through the encoder's own helper in the caller; here values are given exactly representable.
  throw new Error('use blobData() for fp16');
}

export function caffemodelOf(net: TestNet, encodeHalf?: (f: Float64Array) => Uint16Array): Uint8Array {
  return encodeCaffemodel({
    name: net.name ?? 'test',
    layers: net.layers.map((l) => ({
      name: l.name,
      type: l.type,
      bottoms: l.bottoms,
      tops: l.tops,
      params: l.params,
      blobs: (l.blobs ?? []).map((b) => {
        const dtype = b.dtype ?? 'float32';
        const data = dtype === 'float16' ? encodeHalf!(b.values) : toTyped(b.values, dtype);
        return { data, dtype, shape: b.shape, legacy: b.legacy };
      }),
    })),
  });
}

let seed = 1;
export const randn = (n: number, scale = 1, offset = 0) => randomNormal(n, seed++).map((v) => v * scale + offset);
export const uniform = (n: number, lo: number, hi: number) =>
  randomNormal(n, seed++).map((v) => lo + ((Math.tanh(v) + 1) / 2) * (hi - lo));
export const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
export const blob = (shape: number[], values?: Float64Array, dtype?: BlobDType): TestBlob => ({
  shape,
  values: values ?? randn(count(shape), 0.5),
  dtype,
});

/** BatchNorm blobs [mean·f, var·f, f]. */
export function bnBlobs(
  C: number,
  factor = 999.98,
  dtype?: BlobDType,
): { blobs: TestBlob[]; mean: Float64Array; variance: Float64Array } {
  const mean = randn(C, 0.5);
  const variance = uniform(C, 0.5, 2);
  return {
    mean,
    variance,
    blobs: [
      blob(
        [C],
        mean.map((m) => m * factor),
        dtype,
      ),
      blob(
        [C],
        variance.map((v) => v * factor),
        dtype,
      ),
      blob([1], Float64Array.of(factor), dtype),
    ],
  };
}
