import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isCaffeFoldError } from '../errors';
import {
  concatChunks,
  decodeHalf,
  encodeCaffemodel,
  encodeHalf,
  floatToHalf,
  halfToFloat,
  looksLikeCaffemodel,
  readCaffemodel,
  writeCaffemodel,
  type EncodeLayer,
  type LayerEdit,
  type NewBlob,
} from '.';
import { lookupMessage } from '../schema';

const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const SHARED = resolve(ROOT, '..', 'shared');
const CACHE = join(ROOT, '.cache', 'oracle');
const PY = '/usr/bin/python3';
const haveGen =
  existsSync(join(SHARED, 'tools/caffe-oracle/gen.py')) &&
  spawnSync(PY, ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;
if (!haveGen)
  console.warn('[caffemodel tests] ../shared or python3-numpy is absent: the gen.py round trips are skipped.');

const concat = concatChunks;
const eqBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

function typedFor(dtype: NewBlob['dtype'], values: number[]): NewBlob['data'] {
  if (dtype === 'float32') return Float32Array.from(values);
  if (dtype === 'float64') return Float64Array.from(values);
  return encodeHalf(values);
}

const blobArb: fc.Arbitrary<NewBlob> = fc
  .tuple(
    fc.constantFrom<NewBlob['dtype']>('float32', 'float64', 'float16'),
    fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }),
  )
  .chain(([dtype, shape]) =>
    fc
      .array(fc.double({ min: -100, max: 100, noNaN: true }), {
        minLength: shape.reduce((a, b) => a * b, 1),
        maxLength: shape.reduce((a, b) => a * b, 1),
      })
      .map((vals) => ({ dtype, shape, data: typedFor(dtype, vals) })),
  );

const layerArb: fc.Arbitrary<EncodeLayer> = fc
  .record({
    name: fc.stringMatching(/^[a-z][a-z0-9_/]{0,10}$/),
    type: fc.constantFrom('Convolution', 'InnerProduct', 'BatchNorm', 'Scale', 'ReLU', 'Pooling'),
    bottoms: fc.array(fc.stringMatching(/^[a-z]{1,5}$/), { maxLength: 2 }),
    tops: fc.array(fc.stringMatching(/^[a-z]{1,5}$/), { minLength: 1, maxLength: 2 }),
    v1: fc.boolean(),
    blobs: fc.array(blobArb, { maxLength: 3 }),
    params: fc.option(
      fc.record({
        convolution_param: fc.record({
          num_output: fc.nat(64),
          bias_term: fc.boolean(),
          kernel_size: fc.array(fc.nat(7), { maxLength: 2 }),
        }),
      }),
      { nil: undefined },
    ),
  })
  .map((l) => (l.v1 && !['Convolution', 'InnerProduct', 'ReLU', 'Pooling'].includes(l.type) ? { ...l, v1: false } : l));

/** Splice an unknown NetParameter field (number 999, random bytes) after the name field, and another at the end. */
function withUnknown(bytes: Uint8Array, junk: Uint8Array): Uint8Array {
  // field 999, wire type 2: tag varint 999*8+2 = 7994 → 0xba 0x3e
  const field = concat([Uint8Array.from([0xba, 0x3e, junk.length]), junk]);
  const nameEnd = 2 + bytes[1]; // name is field 1, first, shorter than 128 bytes
  return concat([bytes.subarray(0, nameEnd), field, bytes.subarray(nameEnd), field]);
}

describe('caffemodel: read and write', () => {
  it('property: encode → read gives back names, types, shapes and data; write with no edit is byte-identical', () => {
    fc.assert(
      fc.property(fc.array(layerArb, { maxLength: 6 }), fc.uint8Array({ maxLength: 20 }), (layers, junk) => {
        const bytes = withUnknown(encodeCaffemodel({ name: 'net', layers }), junk);
        const m = readCaffemodel(bytes);
        expect(m.layers.map((l) => [l.name, l.type, l.bottoms, l.tops])).toEqual(
          layers.map((l) => [l.name, l.type, l.bottoms, l.tops]),
        );
        m.layers.forEach((l, i) => {
          expect(l.field).toBe(layers[i].v1 ? 2 : 100);
          expect(l.blobs.map((b) => [b.dtype, b.shape])).toEqual(
            (layers[i].blobs ?? []).map((b) => [b.dtype, b.shape]),
          );
          l.blobs.forEach((b, k) => expect(Array.from(b.data)).toEqual(Array.from(layers[i].blobs![k].data)));
        });
        const out = writeCaffemodel(m, new Map());
        expect(out).toHaveLength(1);
        expect(eqBytes(concat(out), bytes)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('property: edits change exactly what they say; untouched layers stay byte for byte', () => {
    fc.assert(
      fc.property(fc.array(layerArb, { minLength: 1, maxLength: 6 }), fc.nat(), fc.nat(), (layers, a, b) => {
        const bytes = encodeCaffemodel({ name: 'n', layers });
        const m = readCaffemodel(bytes);
        const removeIdx = a % layers.length;
        const editIdx = b % layers.length;
        const edits = new Map<number, LayerEdit | null>();
        edits.set(removeIdx, null);
        let edited: NewBlob | undefined;
        if (editIdx !== removeIdx) {
          const like = m.layers[editIdx].blobs[0];
          edited = like
            ? {
                dtype: like.dtype,
                shape: like.shape,
                like,
                data: typedFor(
                  like.dtype,
                  Array.from({ length: like.count }, (_, i) => i + 0.5),
                ),
              }
            : { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) };
          edits.set(editIdx, {
            blobs: [edited, ...m.layers[editIdx].blobs.slice(1).map((_, i) => i + 1)],
            setVarint: [{ paramField: 106, subField: 2, value: 1 }],
            rename: { tops: ['renamed'] },
          });
        }
        const out = readCaffemodel(concat(writeCaffemodel(m, edits)));
        const kept = m.layers.filter((l) => l.index !== removeIdx);
        expect(out.layers.map((l) => l.name)).toEqual(kept.map((l) => l.name));
        out.layers.forEach((l, i) => {
          const orig = kept[i];
          const o = out.bytes.subarray(l.span.start, l.span.end);
          if (orig.index !== editIdx) expect(eqBytes(o, m.bytes.subarray(orig.span.start, orig.span.end))).toBe(true);
          else {
            expect(l.tops[0]).toBe('renamed');
            expect(Array.from(l.blobs[0].data)).toEqual(Array.from(edited!.data));
            expect(l.blobs[0].dtype).toBe(edited!.dtype);
            expect(l.blobs[0].shape).toEqual(edited!.shape);
            for (let k = 1; k < orig.blobs.length; k++)
              expect(
                eqBytes(
                  out.bytes.subarray(l.blobs[k].span.start, l.blobs[k].span.end),
                  m.bytes.subarray(orig.blobs[k].span.start, orig.blobs[k].span.end),
                ),
              ).toBe(true);
            const T = lookupMessage(orig.field === 2 ? 'V1LayerParameter' : 'LayerParameter');
            const dec = T.decode(out.bytes.subarray(l.payload.start, l.payload.end)) as unknown as {
              convolution_param?: { bias_term?: boolean };
            };
            const had = (
              T.decode(m.bytes.subarray(orig.payload.start, orig.payload.end)) as unknown as {
                convolution_param?: unknown;
              }
            ).convolution_param;
            if (had) expect(dec.convolution_param?.bias_term).toBe(true);
            else expect(dec.convolution_param).toBeFalsy();
          }
        });
      }),
      { numRuns: 200 },
    );
  });

  it('blob data is a view over the file when aligned (no copy), one copy when not', () => {
    const bytes = encodeCaffemodel({
      layers: [
        {
          name: 'c',
          type: 'Convolution',
          blobs: [{ dtype: 'float32', shape: [4], data: Float32Array.of(1, 2, 3, 4) }],
        },
      ],
    });
    const buf = new Uint8Array(bytes.length + 8);
    for (let shift = 0; shift < 4; shift++) {
      buf.set(bytes, shift);
      const m = readCaffemodel(buf.subarray(shift, shift + bytes.length));
      const d = m.layers[0].blobs[0].data;
      expect(Array.from(d)).toEqual([1, 2, 3, 4]);
      expect(d.buffer === buf.buffer).toBe(
        (buf.byteOffset + shift + payloadOffset(m.layers[0].blobs[0].span.start, buf.subarray(shift))) % 4 === 0,
      );
    }
  });

  it('reads from a Node Buffer at an unaligned offset (Buffer.slice is a view, not a copy)', () => {
    const bytes = encodeCaffemodel({
      layers: [
        {
          name: 'c',
          type: 'Convolution',
          blobs: [
            { dtype: 'float32', shape: [3], data: Float32Array.of(1.5, -2, 3) },
            { dtype: 'float64', shape: [2], data: Float64Array.of(7, 8) },
          ],
        },
      ],
    });
    for (let shift = 0; shift < 8; shift++) {
      const big = Buffer.alloc(bytes.length + 16, 0xee);
      big.set(bytes, shift);
      const m = readCaffemodel(big.subarray(shift, shift + bytes.length));
      expect(Array.from(m.layers[0].blobs[0].data)).toEqual([1.5, -2, 3]);
      expect(Array.from(m.layers[0].blobs[1].data)).toEqual([7, 8]);
    }
  });

  it('a V1 layer keeps its enum type and legacy 4-D blob dims', () => {
    const bytes = encodeCaffemodel({
      layers: [
        {
          name: 'fc',
          type: 'InnerProduct',
          v1: true,
          blobs: [{ dtype: 'float32', shape: [3, 2], data: new Float32Array(6) }],
        },
      ],
    });
    const m = readCaffemodel(bytes);
    expect(m.layers[0]).toMatchObject({ field: 2, type: 'InnerProduct', v1Type: 'INNER_PRODUCT' });
    // A hand-made legacy blob: num 1 channels 1 height 2 width 3.
    const legacy = Uint8Array.from([
      0x08,
      1,
      0x10,
      1,
      0x18,
      2,
      0x20,
      3,
      0x2a,
      24,
      ...new Uint8Array(Float32Array.of(1, 2, 3, 4, 5, 6).buffer),
    ]);
    const layer = concat([Uint8Array.from([0x0a, 1, 0x78, 0x3a, legacy.length]), legacy]);
    const net = concat([Uint8Array.from([0xa2, 0x06, layer.length]), layer]);
    const b = readCaffemodel(net).layers[0].blobs[0];
    expect(b).toMatchObject({ shapeKind: 'legacy', shape: [1, 1, 2, 3], count: 6 });
  });
});

/** Offset of the packed data payload inside a blob (after field 5's tag and length). */
function payloadOffset(blobStart: number, bytes: Uint8Array): number {
  let p = blobStart;
  for (;;) {
    const tag = bytes[p++];
    let len = 0;
    let mul = 1;
    for (;;) {
      const c = bytes[p++];
      len += (c & 0x7f) * mul;
      if (c < 0x80) break;
      mul *= 128;
    }
    if (tag === 0x2a) return p;
    p += len;
  }
}

describe('caffemodel: fp16', () => {
  it('every half value round-trips through float', () => {
    for (let h = 0; h < 65536; h++) {
      const f = halfToFloat(h);
      if (Number.isNaN(f)) expect(Number.isNaN(halfToFloat(floatToHalf(f)))).toBe(true);
      else expect(floatToHalf(f)).toBe(h);
    }
  });
  it('rounds to nearest even, overflows to infinity, keeps subnormals', () => {
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // halfway: to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(65520)).toBe(0x7c00);
    expect(floatToHalf(-1e6)).toBe(0xfc00);
    expect(floatToHalf(2 ** -24)).toBe(1);
    expect(floatToHalf(2 ** -26)).toBe(0);
    expect(Array.from(decodeHalf(encodeHalf([0.5, -2, 1024])))).toEqual([0.5, -2, 1024]);
  });
});

describe('caffemodel: bad input', () => {
  const good = encodeCaffemodel({
    name: 'n',
    layers: [
      {
        name: 'conv',
        type: 'Convolution',
        bottoms: ['data'],
        tops: ['conv'],
        blobs: [{ dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }],
        params: { convolution_param: { num_output: 2 } },
      },
      { name: 'bn', type: 'BatchNorm', blobs: [{ dtype: 'float64', shape: [2], data: Float64Array.of(1, 2) }] },
    ],
  });

  it('a file cut at any byte gives a typed error with an offset inside the file, never another exception', () => {
    for (let n = 1; n < good.length; n++) {
      try {
        readCaffemodel(good.slice(0, n));
      } catch (e) {
        if (!isCaffeFoldError(e)) throw e;
        expect([
          'caffemodel-truncated',
          'caffemodel-not-binary',
          'caffemodel-invalid',
          'caffemodel-wiretype',
        ]).toContain(e.code);
        if (e.where?.kind === 'binary') expect(e.where.offset).toBeLessThanOrEqual(n);
        continue;
      }
      // Some prefixes end exactly between top-level fields: those are valid (shorter) models.
      expect(readCaffemodel(good.slice(0, n)).layers.length).toBeLessThan(2);
    }
  });

  it('a lying length is refused before anything is allocated', () => {
    const lie = Uint8Array.from([0x0a, 0x01, 0x6e, 0xa2, 0x06, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00]);
    expect(() => readCaffemodel(lie, 'x.caffemodel')).toThrow(
      /x\.caffemodel at byte 5: A field says it is 2147483647 bytes long, but only 1 remain\./,
    );
  });

  it('a bad wire type names its byte offset', () => {
    const bad = concat([good.subarray(0, 3), Uint8Array.from([0x0f]), good.subarray(3)]);
    expect(() => readCaffemodel(bad)).toThrow(/at byte 3: Wire type 7 is not valid here\./);
  });

  it('text, PNG, zip, ONNX and empty files are not caffemodels', () => {
    expect(() => readCaffemodel(new Uint8Array(0))).toThrow(/empty/);
    for (const b of [
      new TextEncoder().encode('name: "x"\nlayer {}'),
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10]),
      Uint8Array.from([0x50, 0x4b, 3, 4, 20, 0]),
      Uint8Array.from([0x08, 0x07, 0x12, 0x07, ...new TextEncoder().encode('pytorch')]),
    ]) {
      expect(looksLikeCaffemodel(b)).toBe(false);
      expect(() => readCaffemodel(b)).toThrow(/not a Caffe \.caffemodel/);
    }
    expect(looksLikeCaffemodel(good)).toBe(true);
  });
});

describe.skipIf(!haveGen)("caffemodel: models written by the oracle's gen.py", () => {
  const gen = (net: string, out: string, extra: string[] = []) => {
    mkdirSync(CACHE, { recursive: true });
    const p = join(CACHE, out);
    if (!existsSync(p))
      execFileSync(
        PY,
        [join(SHARED, 'tools/caffe-oracle/gen.py'), join(SHARED, 'corpus/prototxt', net), p, '--seed', '1', ...extra],
        { stdio: 'ignore' },
      );
    return new Uint8Array(readFileSync(p));
  };
  it('ResNet-50 round-trips byte for byte, with the expected shapes', () => {
    const bytes = gen('resnet50_deploy.prototxt', 'resnet50_deploy.caffemodel');
    const m = readCaffemodel(bytes);
    expect(m.layers.find((l) => l.name === 'conv1')!.blobs[0].shape).toEqual([64, 3, 7, 7]);
    expect(m.layers.find((l) => l.name === 'bn_conv1')!.blobs.map((b) => b.shape)).toEqual([[64], [64], [1]]);
    expect(eqBytes(concat(writeCaffemodel(m, new Map())), bytes)).toBe(true);
  });
  it('double BatchNorm blobs (--bn-double) and the V1 AlexNet', () => {
    const d = gen('mobilenet_v1_deploy.prototxt', 'mobilenet_v1_bn_double.caffemodel', [
      '--bn-double',
      '--no-calibrate',
    ]);
    const md = readCaffemodel(d);
    const bn = md.layers.find((l) => l.type === 'BatchNorm')!;
    expect(bn.blobs.map((b) => b.dtype)).toEqual(['float64', 'float64', 'float64']);
    expect(eqBytes(concat(writeCaffemodel(md, new Map())), d)).toBe(true);
    const a = gen('bvlc_alexnet_deploy_v1_layers.prototxt', 'bvlc_alexnet_deploy_v1_layers.caffemodel');
    const ma = readCaffemodel(a);
    expect(ma.layers.length).toBeGreaterThan(0);
    expect(eqBytes(concat(writeCaffemodel(ma, new Map([[0, { blobs: [0, 1] }]]))), a)).toBe(true);
  });
});
