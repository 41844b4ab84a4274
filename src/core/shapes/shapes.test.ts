import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parsePrototxt } from '../prototxt';
import { buildNet, type Net } from '../net';
import { inferShapes } from '.';

const CORPUS = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../shared/corpus/prototxt');
const haveCorpus = existsSync(CORPUS);
if (!haveCorpus) console.warn(`[shape tests] ${CORPUS} is absent: corpus shape checks are skipped.`);

const net = (text: string) => buildNet(parsePrototxt(text));
/** Shape of the last version of a blob. */
function shapeOf(n: Net, shapes: Map<string, number[]>, blob: string): number[] | undefined {
  let v = -1;
  for (const id of shapes.keys()) if (id.startsWith(blob + '@')) v = Math.max(v, Number(id.slice(blob.length + 1)));
  return shapes.get(`${blob}@${v}`);
}

describe('shape inference (Caffe formulas, hand-checked)', () => {
  const text = `input: "data" input_shape { dim: 1 dim: 3 dim: 224 dim: 224 }
layer { name: "c1" type: "Convolution" bottom: "data" top: "c1" convolution_param { num_output: 64 kernel_size: 7 stride: 2 pad: 3 } }
layer { name: "p1" type: "Pooling" bottom: "c1" top: "p1" pooling_param { pool: MAX kernel_size: 3 stride: 2 } }
layer { name: "p2" type: "Pooling" bottom: "c1" top: "p2" pooling_param { pool: MAX kernel_size: 3 stride: 2 pad: 1 } }
layer { name: "up" type: "Deconvolution" bottom: "p1" top: "up" convolution_param { num_output: 8 kernel_size: 4 stride: 2 pad: 1 group: 8 } }
layer { name: "dil" type: "Convolution" bottom: "p1" top: "dil" convolution_param { num_output: 4 kernel_size: 3 dilation: 2 } }
layer { name: "rect" type: "Convolution" bottom: "p1" top: "rect" convolution_param { num_output: 4 kernel_h: 1 kernel_w: 3 pad_w: 1 } }
layer { name: "cat" type: "Concat" bottom: "p1" bottom: "p1" top: "cat" }
layer { name: "g" type: "Pooling" bottom: "cat" top: "g" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "g" top: "fc" inner_product_param { num_output: 10 } }
layer { name: "flat" type: "Flatten" bottom: "p1" top: "flat" }
layer { name: "sl" type: "Slice" bottom: "cat" top: "a" top: "b" slice_param { axis: 1 slice_point: 100 } }
layer { name: "rs" type: "Reshape" bottom: "p1" top: "rs" reshape_param { shape { dim: 0 dim: -1 dim: 56 } } }
layer { name: "r" type: "ReLU" bottom: "fc" top: "fc" }
layer { name: "odd" type: "MyCustomLayer" bottom: "fc" top: "odd" }
`;
  const n = net(text);
  const { shapes, problems } = inferShapes(n);
  const s = (b: string) => shapeOf(n, shapes, b);

  it('convolution, pooling (ceil and its clip rule), deconvolution, dilation, rectangular kernels', () => {
    expect(s('c1')).toEqual([1, 64, 112, 112]); // floor((224 + 6 - 7) / 2) + 1
    expect(s('p1')).toEqual([1, 64, 56, 56]); // ceil((112 - 3) / 2) + 1 = 56
    expect(s('p2')).toEqual([1, 64, 57, 57]); // ceil((112 + 2 - 3) / 2) + 1 = 57; the clip rule needs (57-1)*2 >= 112+1: no
    expect(s('up')).toEqual([1, 8, 112, 112]); // 2 * (56 - 1) + 4 - 2
    expect(s('dil')).toEqual([1, 4, 52, 52]); // 56 - 5 + 1
    expect(s('rect')).toEqual([1, 4, 56, 56]);
  });
  it('concat, global pooling, inner product, flatten, slice, reshape, in place', () => {
    expect(s('cat')).toEqual([1, 128, 56, 56]);
    expect(s('g')).toEqual([1, 128, 1, 1]);
    expect(s('fc')).toEqual([1, 10]);
    expect(s('flat')).toEqual([1, 64 * 56 * 56]);
    expect([s('a'), s('b')]).toEqual([
      [1, 100, 56, 56],
      [1, 28, 56, 56],
    ]);
    expect(s('rs')).toEqual([1, 64 * 56, 56]);
  });
  it('an unknown layer type leaves its top unknown and says so, without throwing', () => {
    expect(s('odd')).toBeUndefined();
    expect(problems).toEqual([{ layer: 'odd', message: 'no shape rule for MyCustomLayer' }]);
  });
  it('the clip rule: a last window that would start in the padding is dropped', () => {
    // H=5, k=2, s=2, p=1: ceil((5+2-2)/2)+1 = 4; (4-1)*2 = 6 >= 5+1 → 3.
    const r = inferShapes(
      net(
        'input: "d" input_dim: 1 input_dim: 1 input_dim: 5 input_dim: 5\nlayer { name: "p" type: "Pooling" bottom: "d" top: "p" pooling_param { pool: MAX kernel_size: 2 stride: 2 pad: 1 } }\n',
      ),
    );
    expect(r.shapes.get('p@0')).toEqual([1, 1, 3, 3]);
  });
  it('bad parameters become problems, not exceptions', () => {
    const r = inferShapes(
      net(
        'input: "d" input_dim: 1 input_dim: 1 input_dim: 2 input_dim: 2\nlayer { name: "c" type: "Convolution" bottom: "d" top: "c" convolution_param { num_output: 1 kernel_size: 5 } }\n',
      ),
    );
    expect(r.problems[0]).toMatchObject({ layer: 'c' });
    expect(r.problems[0].message).toMatch(/kernel 5 does not fit an input of 2/);
  });
});

describe.skipIf(!haveCorpus)('shape inference on the corpus', () => {
  const load = (f: string) => net(readFileSync(join(CORPUS, f), 'utf8'));
  it.each([
    ['resnet50_deploy.prototxt', 'fc1000', [1, 1000]],
    ['resnet50_deploy.prototxt', 'res5c', [1, 2048, 7, 7]],
    ['mobilenet_v1_deploy.prototxt', 'fc7', [1, 1000, 1, 1]],
    ['squeezenet_v1_1_deploy.prototxt', 'pool10', [10, 1000, 1, 1]], // its Input layer has batch 10
    ['bvlc_alexnet_deploy_v1_layers.prototxt', 'fc8', [10, 1000]],
  ])('%s: %s is %j, and every blob has a shape', (file, blob, want) => {
    const n = load(file);
    const { shapes, problems } = inferShapes(n);
    expect(shapeOf(n, shapes, blob)).toEqual(want);
    expect(problems).toEqual([]);
    for (const l of n.layers) for (const t of l.topRefs) expect(shapes.has(t.id), `${l.name} → ${t.id}`).toBe(true);
  });
});
