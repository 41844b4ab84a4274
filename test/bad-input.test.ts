/** The named bad inputs of the hardening issue, each with its exact message (what, where, what to do). */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCaffeFoldError, type CaffeFoldError } from '../src/core/errors';
import { detectKind, loadFiles, MAX_FILE_BYTES } from '../src/core/pipeline';
import { ROOT } from './oracle';
import { blob, bnBlobs, caffemodelOf, prototxtOf, type TestNet } from './build';

const sampleProto = readFileSync(join(ROOT, 'public/sample/sample.prototxt'));
const sampleModel = readFileSync(join(ROOT, 'public/sample/sample.caffemodel'));
const enc = new TextEncoder();

function error(f: () => unknown): CaffeFoldError {
  try {
    f();
  } catch (e) {
    if (isCaffeFoldError(e)) return e;
    throw e;
  }
  throw new Error('expected a CaffeFoldError');
}
const load = (proto: Uint8Array, model?: Uint8Array, names = ['net.prototxt', 'net.caffemodel']) =>
  loadFiles({ name: names[0], bytes: proto }, model ? { name: names[1], bytes: model } : undefined);

describe('named bad inputs', () => {
  it('an empty file', () => {
    expect(error(() => detectKind(new Uint8Array(0), 'a.caffemodel')).message).toBe(
      'a.caffemodel: The file is empty. The download or copy may have failed: get the file again.',
    );
    expect(error(() => load(sampleProto, new Uint8Array(0))).message).toBe(
      'net.caffemodel: The file is empty. The download or copy may have failed: get the file again.',
    );
  });

  it('a truncated caffemodel names the byte offset', () => {
    const cut = sampleModel.subarray(0, 20000);
    const e = error(() => load(sampleProto, cut));
    expect(e.code).toBe('caffemodel-truncated');
    expect(e.message).toMatch(
      /^net\.caffemodel at byte \d+: A field says it is \d+ bytes long, but only \d+ remain\. The file looks cut short or damaged: download or copy it again\.$/,
    );
    expect(e.where).toMatchObject({ kind: 'binary' });
  });

  it('a prototxt syntax error names line:col', () => {
    const text = sampleProto.toString('utf8').replace('num_output: 16', 'num_output 16');
    const e = error(() => load(enc.encode(text)));
    expect(e.message).toMatch(
      /^net\.prototxt:\d+:\d+: Expected ':' or '\{' after "num_output", found "16"\. Fix the text at that position/,
    );
  });

  it('ONNX, PNG, zip', () => {
    const onnx = Uint8Array.from([0x08, 0x07, 0x12, 0x07, ...enc.encode('pytorch'), 0x1a, 0x03, ...enc.encode('2.1')]);
    expect(error(() => detectKind(onnx, 'm.onnx')).message).toBe(
      'm.onnx: This looks like an ONNX model, not a Caffe model. Fold ONNX models with onnxoptimizer or onnxsim; caffe-fold reads Caffe .prototxt + .caffemodel pairs.',
    );
    expect(error(() => detectKind(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10]), 'x.png')).message).toBe(
      'x.png: This is a PNG image, not a Caffe model file. Drop the network definition (.prototxt) and its weights (.caffemodel).',
    );
    expect(error(() => detectKind(Uint8Array.from([0x50, 0x4b, 3, 4, 20, 0, 0, 0]), 'm.zip')).message).toBe(
      'm.zip: This is a zip archive, not a Caffe model file. Unpack it first and drop the .prototxt and .caffemodel inside.',
    );
    expect(detectKind(sampleProto)).toBe('prototxt');
    expect(detectKind(sampleModel)).toBe('caffemodel');
  });

  it('a caffemodel paired with the wrong prototxt names the layers', () => {
    const other: TestNet = {
      input: { name: 'data', shape: [1, 3, 8, 8] },
      layers: [
        {
          name: 'stem',
          type: 'Convolution',
          bottoms: ['data'],
          tops: ['stem'],
          text: 'convolution_param { num_output: 4 kernel_size: 3 }',
          blobs: [blob([4, 3, 3, 3]), blob([4])],
        },
      ],
    };
    const e = error(() => load(enc.encode(prototxtOf(other)), sampleModel));
    expect(e.message).toBe(
      'net.caffemodel: None of the 22 weighted layers of the caffemodel ("conv1", "bn_conv1", "scale_conv1", …) is in the prototxt. These weights belong to another network: drop the .prototxt that was trained with them.',
    );
    // Partly matching (conv1 fits, "stem" has no weights): refused unless allowed, then loads and says which
    // layers lack weights and which weights are unused.
    const partialText = enc.encode(
      prototxtOf({
        ...other,
        layers: [
          ...other.layers,
          {
            name: 'conv1',
            type: 'Convolution',
            bottoms: ['data'],
            tops: ['conv1'],
            text: 'convolution_param { num_output: 16 kernel_size: 3 pad: 1 bias_term: false }',
          },
        ],
      }),
    );
    expect(error(() => load(partialText, sampleModel)).message).toBe(
      'net.prototxt, layer "stem": 1 layer of the prototxt needs weights and has none in the caffemodel: "stem"; Caffe would leave it at its initial values. Give the .caffemodel that was trained with this .prototxt; if this layer is meant to keep its initial values, load anyway (command line: --allow-missing-weights).',
    );
    const partial = loadFiles(
      { name: 'net.prototxt', bytes: partialText },
      { name: 'net.caffemodel', bytes: sampleModel },
      { allowMissingWeights: true },
    );
    expect(partial.analysis.warnings.map((w) => w.message)).toEqual([
      '1 layer(s) of the prototxt have no weights in the caffemodel: stem',
      '21 weighted layer(s) of the caffemodel are not in the prototxt: bn_conv1, scale_conv1, res2a_branch2a, bn2a_branch2a, scale2a_branch2a…',
    ]);
  });

  it('a blob count or shape that differs from what the prototxt makes is refused, as Caffe refuses it', () => {
    const net: TestNet = {
      input: { name: 'data', shape: [1, 3, 8, 8] },
      layers: [
        {
          name: 'c',
          type: 'Convolution',
          bottoms: ['data'],
          tops: ['c'],
          text: 'convolution_param { num_output: 4 kernel_size: 3 }',
          blobs: [blob([4, 3, 3, 3])],
        },
        { name: 'b', type: 'BatchNorm', bottoms: ['c'], tops: ['c'], blobs: bnBlobs(4).blobs },
      ],
    };
    const e = error(() => load(enc.encode(prototxtOf(net)), caffemodelOf(net)));
    expect(e.code).toBe('pair-blob-count');
    expect(e.where).toEqual({ kind: 'layer', file: 'net.caffemodel', layer: 'c' });
    expect(e.message).toBe(
      'net.caffemodel, layer "c": Convolution layer "c" has 1 blob in the caffemodel ([4, 3, 3, 3]), but the prototxt makes 2 (weights [4, 3, 3, 3], bias [4]); Caffe refuses such a pair ("Incompatible number of blobs for layer c"). These weights belong to another network (or another version of it): give the .caffemodel that was trained with this .prototxt.',
    );
    const shape: TestNet = { ...net, layers: [net.layers[0], { ...net.layers[1], blobs: bnBlobs(5).blobs }] };
    const e2 = error(() =>
      load(
        enc.encode(
          prototxtOf({
            ...shape,
            layers: [
              { ...shape.layers[0], text: 'convolution_param { num_output: 4 kernel_size: 3 bias_term: false }' },
              shape.layers[1],
            ],
          }),
        ),
        caffemodelOf(shape),
      ),
    );
    expect(e2.code).toBe('pair-blob-shape');
    expect(e2.message).toBe(
      'net.caffemodel, layer "b": Param 0 (mean) of BatchNorm layer "b" has the shape [5] in the caffemodel, but the prototxt makes it [4]; Caffe refuses such a pair ("Cannot copy param 0 weights from layer \'b\'; shape mismatch"). These weights belong to another network (or another version of it): give the .caffemodel that was trained with this .prototxt.',
    );
  });

  it('a BatchNorm with NaN or negative variance is refused, with a warning', () => {
    const net: TestNet = {
      input: { name: 'data', shape: [1, 3, 8, 8] },
      layers: [
        {
          name: 'c',
          type: 'Convolution',
          bottoms: ['data'],
          tops: ['c'],
          text: 'convolution_param { num_output: 2 kernel_size: 1 bias_term: false }',
          blobs: [blob([2, 3, 1, 1])],
        },
        { name: 'b', type: 'BatchNorm', bottoms: ['c'], tops: ['c'], blobs: bnBlobs(2, 1).blobs },
      ],
    };
    net.layers[1].blobs![1].values[0] = -3;
    const l = load(enc.encode(prototxtOf(net)), caffemodelOf(net));
    expect(l.analysis.refusals[0]).toEqual({
      layer: 'b',
      type: 'BatchNorm',
      code: 'bad-statistics',
      reason: 'channel 0 has a negative variance (-3) that eps 0.00001 does not cover: the model is damaged',
    });
    expect(l.analysis.warnings).toContainEqual({
      layer: 'b',
      message: 'channel 0 has a negative variance (-3) that eps 0.00001 does not cover: the model is damaged',
    });
  });

  it('a file over 2 GB is refused with a message', () => {
    // A fake view with a huge length: no memory is allocated.
    const huge = { length: MAX_FILE_BYTES + 1 } as Uint8Array;
    const e = error(() =>
      loadFiles({ name: 'net.prototxt', bytes: sampleProto }, { name: 'big.caffemodel', bytes: huge }),
    );
    expect(e.message).toBe(
      'big.caffemodel: The file is 2.00 GB; caffe-fold reads files up to 2 GB. Caffe itself cannot read protobuf messages over 2 GB either: check the file.',
    );
  });
});
