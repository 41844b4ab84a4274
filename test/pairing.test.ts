/**
 * A pair that Caffe would refuse is refused (issue 10, part 3): a prototxt without layers, a caffemodel whose
 * blobs do not fit the layers the prototxt makes (Net::CopyTrainedLayersFrom's checks), and layers left without
 * weights unless the user allows it. And none of the corpus's legitimate pairs is refused.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isCaffeFoldError, type CaffeFoldError } from '../src/core/errors';
import { foldLoaded, loadFiles, type LoadOptions } from '../src/core/pipeline';
import { encodeCaffemodel, readCaffemodel } from '../src/core/caffemodel';
import { expectedParams } from '../src/core/pairing';
import { CORPUS, INPUT_SHAPES, ROOT, corpusWeights, haveCorpus, haveOracle } from './oracle';
import { blob, bnBlobs, caffemodelOf, prototxtOf, type TestNet } from './build';

const enc = new TextEncoder();
const sampleModel = readFileSync(join(ROOT, 'public/sample/sample.caffemodel'));

function error(f: () => unknown): CaffeFoldError {
  try {
    f();
  } catch (e) {
    if (isCaffeFoldError(e)) return e;
    throw e;
  }
  throw new Error('expected a CaffeFoldError');
}
const load = (
  proto: string | Uint8Array,
  model?: Uint8Array,
  opts?: LoadOptions,
  names = ['net.prototxt', 'net.caffemodel'],
) =>
  loadFiles(
    { name: names[0], bytes: typeof proto === 'string' ? enc.encode(proto) : proto },
    model ? { name: names[1], bytes: model } : undefined,
    opts,
  );

describe('a prototxt without layers is refused, with or without weights', () => {
  const hint =
    'Give the .prototxt that describes the network: the text file with its layer { name: … type: … } blocks.';
  it('an empty prototxt', () => {
    for (const model of [sampleModel, undefined]) {
      const e = error(() => load(new Uint8Array(0), model));
      expect(e.code).toBe('net-no-layers');
      expect(e.message).toBe(
        `net.prototxt: The network definition is empty: there is nothing to fold or draw. ${hint}`,
      );
      expect(error(() => load('\n  \n', model)).code).toBe('net-no-layers');
    }
  });

  it('a prototxt with a name, inputs or comments but no layers', () => {
    const e = error(() =>
      load(
        'name: "ResNet-50"\ninput: "data"\ninput_dim: 1\ninput_dim: 3\ninput_dim: 224\ninput_dim: 224\n',
        sampleModel,
      ),
    );
    expect(e.message).toBe(
      `net.prototxt: The network definition declares an input ("data") but no layers: there is nothing to fold or draw. ${hint}`,
    );
    expect(error(() => load('# just a comment\nname: "x"\n')).message).toBe(
      `net.prototxt: The network definition has no layers (no "layer { … }" blocks): there is nothing to fold or draw. ${hint}`,
    );
  });

  it('a prototxt whose every layer is left out in the TEST phase', () => {
    const text =
      'layer { name: "data" type: "Data" top: "data" include { phase: TRAIN } }\nlayer { name: "loss" type: "SoftmaxWithLoss" bottom: "data" top: "l" include { phase: TRAIN } }\n';
    const e = error(() => load(text));
    expect(e.code).toBe('net-no-layers');
    expect(e.what).toBe(
      'All 2 layers are left out in the TEST phase (the first, "data": include { phase TRAIN } does not match TEST): there is nothing to fold or draw.',
    );
  });
});

describe('layers that need weights and have none', () => {
  const net: TestNet = {
    input: { name: 'data', shape: [1, 3, 8, 8] },
    layers: [
      {
        name: 'c',
        type: 'Convolution',
        bottoms: ['data'],
        tops: ['c'],
        text: 'convolution_param { num_output: 4 kernel_size: 3 bias_term: false }',
        blobs: [blob([4, 3, 3, 3])],
      },
      { name: 'b', type: 'BatchNorm', bottoms: ['c'], tops: ['c'], blobs: bnBlobs(4).blobs },
      {
        name: 'fc',
        type: 'InnerProduct',
        bottoms: ['c'],
        tops: ['fc'],
        text: 'inner_product_param { num_output: 2 }',
        blobs: [blob([2, 144]), blob([2])],
      },
    ],
  };
  // The caffemodel lacks fc.
  const model = caffemodelOf({ ...net, layers: net.layers.slice(0, 2) });

  it('are an error by default, naming them', () => {
    const e = error(() => load(prototxtOf(net), model));
    expect(e.code).toBe('pair-missing-weights');
    expect(e.where).toEqual({ kind: 'layer', file: 'net.prototxt', layer: 'fc' });
    expect(e.what).toBe(
      '1 layer of the prototxt needs weights and has none in the caffemodel: "fc"; Caffe would leave it at its initial values.',
    );
    expect(e.hint).toMatch(/load anyway \(command line: --allow-missing-weights\)\.$/);
  });

  it('with allowMissingWeights: loads and folds, with the warning', () => {
    const l = load(prototxtOf(net), model, { allowMissingWeights: true });
    expect(l.pairing.missing).toEqual(['fc']);
    expect(l.analysis.warnings.map((w) => w.message)).toContain(
      '1 layer(s) of the prototxt have no weights in the caffemodel: fc',
    );
    const r = foldLoaded(l);
    expect(r.report.chains.map((c) => c.layers)).toEqual([['c', 'b']]);
    expect(r.report.warnings.map((w) => w.message)).toContain(
      '1 layer(s) of the prototxt have no weights in the caffemodel: fc',
    );
  });

  it('a caffemodel with no weights at all says so', () => {
    const empty = encodeCaffemodel({ name: 'x', layers: [{ name: 'relu', type: 'ReLU' }] });
    expect(error(() => load(prototxtOf(net), empty)).what).toBe(
      '3 layers of the prototxt need weights and have none in the caffemodel (the caffemodel holds no weights at all): "c", "b", "fc"; Caffe would leave them at their initial values.',
    );
  });

  it('a Scale whose factor is its second input makes no blobs and needs none', () => {
    const two: TestNet = {
      input: { name: 'data', shape: [1, 3, 8, 8] },
      layers: [
        {
          name: 'p',
          type: 'Pooling',
          bottoms: ['data'],
          tops: ['p'],
          text: 'pooling_param { pool: AVE global_pooling: true }',
        },
        { name: 's', type: 'Scale', bottoms: ['data', 'p'], tops: ['s'], text: 'scale_param { axis: 0 }' },
        {
          name: 'c',
          type: 'Convolution',
          bottoms: ['s'],
          tops: ['c'],
          text: 'convolution_param { num_output: 2 kernel_size: 1 }',
          blobs: [blob([2, 3, 1, 1]), blob([2])],
        },
      ],
    };
    expect(load(prototxtOf(two), caffemodelOf(two)).pairing.missing).toEqual([]);
  });
});

describe("expected params follow Caffe's LayerSetUp", () => {
  const layerOf = (text: string) =>
    load(`input: "data"\ninput_shape { dim: 2 dim: 6 dim: 5 dim: 5 }\n${text}`).net.layers[0];
  const exp = (text: string, ins: number[][] = [[2, 6, 5, 5]]) => expectedParams(layerOf(text), ins);
  it('per layer type', () => {
    expect(
      exp(
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_h: 3 kernel_w: 1 group: 2 } }',
      )?.shapes,
    ).toEqual([[[4, 3, 3, 1]], [[4]]]);
    expect(
      exp(
        'layer { name: "d" type: "Deconvolution" bottom: "data" top: "d" convolution_param { num_output: 4 kernel_size: 2 group: 2 bias_term: false } }',
      )?.shapes,
    ).toEqual([[[6, 2, 2, 2]]]);
    expect(
      exp(
        'layer { name: "dw" type: "ConvolutionDepthwise" bottom: "data" top: "dw" convolution_param { num_output: 6 kernel_size: 3 bias_term: false } }',
      )?.shapes,
    ).toEqual([
      [
        [6, 1, 3, 3],
        [6, 1, 3, 3],
      ],
    ]);
    expect(
      exp('layer { name: "f" type: "InnerProduct" bottom: "data" top: "f" inner_product_param { num_output: 7 } }')
        ?.shapes,
    ).toEqual([[[7, 150]], [[7]]]);
    expect(
      exp(
        'layer { name: "f" type: "InnerProduct" bottom: "data" top: "f" inner_product_param { num_output: 7 axis: 2 transpose: true bias_term: false } }',
      )?.shapes,
    ).toEqual([[[25, 7]]]);
    expect(exp('layer { name: "b" type: "BatchNorm" bottom: "data" top: "b" }')?.shapes).toEqual([[[6]], [[6]], [[1]]]);
    expect(
      exp(
        'layer { name: "s" type: "Scale" bottom: "data" top: "s" scale_param { axis: 1 num_axes: 2 bias_term: true } }',
      )?.shapes,
    ).toEqual([[[6, 5]], [[6, 5]]]);
    expect(exp('layer { name: "s" type: "Bias" bottom: "data" top: "s" bias_param { num_axes: -1 } }')?.shapes).toEqual(
      [[[6, 5, 5]]],
    );
    expect(exp('layer { name: "p" type: "PReLU" bottom: "data" top: "p" }')?.shapes).toEqual([[[6]]]);
    expect(
      exp('layer { name: "p" type: "PReLU" bottom: "data" top: "p" prelu_param { channel_shared: true } }')?.shapes,
    ).toEqual([[[], [1]]]);
    expect(
      exp('layer { name: "e" type: "Embed" bottom: "data" top: "e" embed_param { num_output: 8 input_dim: 100 } }')
        ?.shapes,
    ).toEqual([[[100, 8]], [[8]]]);
    // Unknown input shape: the count and what does not depend on the input; unknown types: nothing.
    expect(
      exp(
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 kernel_size: 3 } }',
        [],
      ),
    ).toMatchObject({ count: 2, shapes: [undefined, [[4]]] });
    expect(exp('layer { name: "x" type: "MyPlugin" bottom: "data" top: "x" }')).toBeUndefined();
  });
});

describe.skipIf(!haveCorpus || !haveOracle)('corpus pairs', () => {
  const names = haveCorpus
    ? readdirSync(CORPUS)
        .filter((f) => f.endsWith('.prototxt'))
        .map((f) => f.replace(/\.prototxt$/, ''))
    : [];

  it(
    "ResNet-50's prototxt with MobileNet v2's caffemodel is refused, naming conv1 and the shapes",
    { timeout: 600_000 },
    () => {
      const e = error(() =>
        loadFiles(
          { name: 'resnet50_deploy.prototxt', bytes: readFileSync(join(CORPUS, 'resnet50_deploy.prototxt')) },
          { name: 'mobilenet_v2.caffemodel', bytes: readFileSync(corpusWeights('mobilenet_v2_deploy')) },
        ),
      );
      expect(e.code).toBe('pair-blob-count');
      expect(e.where).toEqual({ kind: 'layer', file: 'mobilenet_v2.caffemodel', layer: 'conv1' });
      expect(e.message).toBe(
        'mobilenet_v2.caffemodel, layer "conv1": Convolution layer "conv1" has 1 blob in the caffemodel ([32, 3, 3, 3]), but the prototxt makes 2 (weights [64, 3, 7, 7], bias [64]); Caffe refuses such a pair ("Incompatible number of blobs for layer conv1"). These weights belong to another network (or another version of it): give the .caffemodel that was trained with this .prototxt.',
      );
    },
  );

  it('every corpus net with its own weights loads: no legitimate pair is refused', { timeout: 1_200_000 }, () => {
    for (const name of names) {
      const proto = { name: `${name}.prototxt`, bytes: readFileSync(join(CORPUS, `${name}.prototxt`)) };
      const model = { name: `${name}.caffemodel`, bytes: readFileSync(corpusWeights(name)) };
      const inputShape = INPUT_SHAPES[name]?.split(',').map(Number);
      for (const opts of [{}, { inputShape }]) {
        let e: unknown;
        try {
          const l = loadFiles(proto, model, opts);
          expect(l.pairing.missing, name).toEqual([]);
        } catch (x) {
          e = x;
        }
        // The SSD training net is refused for what it is (a training net), not for its weights.
        if (name === 'mobilenet_ssd_train') expect(isCaffeFoldError(e) && e.code, name).not.toMatch(/^pair-/);
        else expect(e, name).toBeUndefined();
      }
    }
  });

  it('deploy nets: the shape of every blob is checked, not skipped', { timeout: 600_000 }, () => {
    for (const name of names.filter((n) => /deploy|test$/.test(n))) {
      const l = loadFiles(
        { name: 'n.prototxt', bytes: readFileSync(join(CORPUS, `${name}.prototxt`)) },
        { name: 'n.caffemodel', bytes: readFileSync(corpusWeights(name)) },
      );
      const unknown: string[] = [];
      for (const layer of l.net.layers) {
        if (!l.weights.has(layer.name)) continue;
        const e = expectedParams(
          layer,
          layer.bottomRefs.map((r) => l.shapes.get(r.id)),
        );
        if (!e || e.shapes.length !== e.count || e.shapes.some((s) => !s))
          unknown.push(`${layer.name} (${layer.type})`);
      }
      expect(unknown, name).toEqual([]);
    }
  });

  it(
    'the V1 AlexNet with legacy 4-D blob dims (num/channels/height/width) loads and folds (nothing to fold)',
    { timeout: 600_000 },
    () => {
      const model = readCaffemodel(readFileSync(corpusWeights('bvlc_alexnet_deploy_v1_layers')));
      // As old Caffe wrote it: V1 `layers` entries, every blob with legacy dims (bias 1×1×1×N, fc 1×1×N×K).
      const legacy = encodeCaffemodel({
        name: 'CaffeNet',
        layers: model.layers.map((l) => ({
          name: l.name,
          type: l.type,
          v1: true,
          blobs: l.blobs.map((b) => ({ data: b.data, dtype: b.dtype, shape: b.shape, legacy: true })),
        })),
      });
      const read = readCaffemodel(legacy);
      expect(read.layers.flatMap((l) => l.blobs.map((b) => b.shapeKind))).toEqual(expect.arrayContaining(['legacy']));
      expect(read.layers.flatMap((l) => l.blobs.map((b) => b.shapeKind)).every((k) => k === 'legacy')).toBe(true);
      expect(read.layers.find((l) => l.name === 'fc6')!.blobs.map((b) => b.shape)).toEqual([
        [1, 1, 4096, 9216],
        [1, 1, 1, 4096],
      ]);
      const proto = {
        name: 'alexnet.prototxt',
        bytes: readFileSync(join(CORPUS, 'bvlc_alexnet_deploy_v1_layers.prototxt')),
      };
      const l = loadFiles(proto, { name: 'alexnet.caffemodel', bytes: legacy });
      expect(l.pairing).toEqual({ missing: [], unused: [] });
      expect(foldLoaded(l).report.chains).toEqual([]);
      // A legacy blob that does not fit is refused, with the legacy dims shown.
      const wrong = encodeCaffemodel({
        name: 'CaffeNet',
        layers: model.layers.map((m) => ({
          name: m.name,
          type: m.type,
          v1: true,
          blobs: m.blobs.map((b, i) => ({
            data: b.data,
            dtype: b.dtype,
            shape: m.name === 'fc7' && i === 0 ? [4096, 4096 / 2, 2] : b.shape,
            legacy: true,
          })),
        })),
      });
      expect(error(() => loadFiles(proto, { name: 'alexnet.caffemodel', bytes: wrong })).what).toMatch(
        /^Param 0 \(weights\) of InnerProduct layer "fc7" has the shape \[1, 4096, 2048, 2\] \(legacy num\/channels\/height\/width\) in the caffemodel, but the prototxt makes it \[4096, 4096\]/,
      );
    },
  );
});
