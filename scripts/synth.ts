/**
 * Synthetic caffemodels with real shapes, for the benchmark, the e2e tests and fuzzing: random but realistic
 * weights for every learnable layer of a prototxt (shapes from our shape inference). The wire encoding here is
 * written out by hand, independently of src/core/caffemodel, so it also cross-checks our reader.
 */
import { parsePrototxt, message, num, bool } from '../src/core/prototxt';
import { buildNet, type NetLayer } from '../src/core/net';
import { inferShapes } from '../src/core/shapes';
import { mulberry32 } from '../src/core/fold/reference';

export interface SynthOptions {
  seed?: number;
  /** BatchNorm moving-average factor (default 999.98), or a function of the layer name. */
  factor?: number | ((layer: string) => number);
  inputShape?: number[];
}

function rng(seed: number) {
  const next = mulberry32(seed);
  return {
    uniform: (lo: number, hi: number) => lo + (hi - lo) * next(),
    /** Approximately normal (sum of 4 uniforms), cheap enough for 500 MB of weights. */
    normal: (mean: number, std: number) => mean + std * (next() + next() + next() + next() - 2) * 1.7320508,
  };
}

class Out {
  chunks: Uint8Array[] = [];
  private buf = new Uint8Array(1 << 16);
  private n = 0;
  private flush() {
    if (this.n) this.chunks.push(this.buf.slice(0, this.n));
    this.n = 0;
  }
  byte(b: number) {
    if (this.n === this.buf.length) this.flush();
    this.buf[this.n++] = b;
  }
  varint(v: number) {
    while (v >= 0x80) {
      this.byte((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }
  tag(field: number, wire: number) {
    this.varint(field * 8 + wire);
  }
  bytes(b: Uint8Array) {
    this.flush();
    this.chunks.push(b);
  }
  size() {
    return this.chunks.reduce((s, c) => s + c.length, 0) + this.n;
  }
  done() {
    this.flush();
    return this.chunks;
  }
}

const utf8 = new TextEncoder();

function lenField(out: Out, field: number, payload: Uint8Array[]) {
  out.tag(field, 2);
  out.varint(payload.reduce((s, c) => s + c.length, 0));
  for (const p of payload) out.bytes(p);
}

function encodeBlob(shape: number[], data: Float32Array): Uint8Array[] {
  const o = new Out();
  const dims = new Out();
  for (const d of shape) dims.varint(d);
  const dimBytes = dims.done();
  const shapeMsg = new Out();
  lenField(shapeMsg, 1, dimBytes);
  lenField(o, 7, shapeMsg.done());
  lenField(o, 5, [new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
  return o.done();
}

function encodeLayer(l: NetLayer, blobs: { shape: number[]; data: Float32Array }[]): Uint8Array[] {
  const o = new Out();
  lenField(o, 1, [utf8.encode(l.name)]);
  lenField(o, 2, [utf8.encode(l.type)]);
  for (const b of l.bottoms) lenField(o, 3, [utf8.encode(b)]);
  for (const t of l.tops) lenField(o, 4, [utf8.encode(t)]);
  for (const b of blobs) lenField(o, 7, encodeBlob(b.shape, b.data));
  return o.done();
}

/** Blob shapes of a learnable layer, from its parameters and its input shape. */
function blobShapes(l: NetLayer, input: number[] | undefined): { role: string; shape: number[] }[] {
  const C = input?.[1];
  switch (l.type) {
    case 'Convolution':
    case 'ConvolutionDepthwise':
    case 'DepthwiseConvolution':
    case 'Deconvolution': {
      const p = message(l.msg, 'convolution_param');
      const n = (p && num(p, 'num_output')) ?? 0;
      const g = (p && num(p, 'group')) ?? (l.type === 'Convolution' || l.type === 'Deconvolution' ? 1 : (C ?? 1));
      const ks = p ? (num(p, 'kernel_size') ?? 1) : 1;
      const kh = (p && num(p, 'kernel_h')) ?? ks;
      const kw = (p && num(p, 'kernel_w')) ?? ks;
      if (C === undefined) throw new Error(`synth: no input shape for ${l.name}`);
      const w = l.type === 'Deconvolution' ? [C, n / g, kh, kw] : [n, C / g, kh, kw];
      const bias = p ? bool(p, 'bias_term') !== false : true;
      return [{ role: 'w', shape: w }, ...(bias ? [{ role: 'b', shape: [n] }] : [])];
    }
    case 'InnerProduct': {
      const p = message(l.msg, 'inner_product_param');
      const n = (p && num(p, 'num_output')) ?? 0;
      const axis = (p && num(p, 'axis')) ?? 1;
      if (!input) throw new Error(`synth: no input shape for ${l.name}`);
      const k = input.slice(axis).reduce((a, b) => a * b, 1);
      const t = p ? bool(p, 'transpose') === true : false;
      const bias = p ? bool(p, 'bias_term') !== false : true;
      return [{ role: 'w', shape: t ? [k, n] : [n, k] }, ...(bias ? [{ role: 'b', shape: [n] }] : [])];
    }
    case 'BatchNorm':
      return [
        { role: 'mean', shape: [C!] },
        { role: 'var', shape: [C!] },
        { role: 'factor', shape: [1] },
      ];
    case 'Scale': {
      const p = message(l.msg, 'scale_param');
      const bias = p ? bool(p, 'bias_term') === true : false;
      return l.bottoms.length > 1
        ? []
        : [{ role: 'gamma', shape: [C!] }, ...(bias ? [{ role: 'beta', shape: [C!] }] : [])];
    }
    case 'PReLU':
      return [{ role: 'slope', shape: [C!] }];
    default:
      return [];
  }
}

/** A caffemodel for the prototxt text, as chunks (concatenate or write them in order). */
export function synthCaffemodel(prototxt: string, opts: SynthOptions = {}): Uint8Array[] {
  const net = buildNet(parsePrototxt(prototxt));
  const { shapes } = inferShapes(net, { inputShape: opts.inputShape });
  const r = rng(opts.seed ?? 1);
  const out = new Out();
  lenField(out, 1, [utf8.encode(net.name ?? 'net')]);
  for (const l of net.layers) {
    const specs = blobShapes(l, shapes.get(l.bottomRefs[0]?.id ?? ''));
    if (!specs.length) continue;
    const fanIn = specs[0].shape.slice(1).reduce((a, b) => a * b, 1);
    const f = typeof opts.factor === 'function' ? opts.factor(l.name) : (opts.factor ?? 999.98);
    const blobs = specs.map(({ role, shape }) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        switch (role) {
          case 'w':
            data[i] = r.normal(0, Math.sqrt(2 / Math.max(1, fanIn)));
            break;
          case 'b':
            data[i] = r.normal(0, 0.05);
            break;
          case 'mean':
            data[i] = r.normal(0, 0.5) * f;
            break;
          case 'var':
            data[i] = r.uniform(0.5, 2) * f;
            break;
          case 'factor':
            data[i] = f;
            break;
          case 'gamma':
            data[i] = r.normal(1, 0.2);
            break;
          case 'beta':
            data[i] = r.normal(0, 0.2);
            break;
          case 'slope':
            data[i] = 0.25;
            break;
        }
      }
      return { shape, data };
    });
    lenField(out, 100, encodeLayer(l, blobs));
  }
  return out.done();
}
