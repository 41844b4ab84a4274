import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { generate, OUT } from '../../../scripts/gen-proto-text';
import { generate as generateFields, OUT as FIELDS_OUT } from '../../../scripts/gen-fields';
import { layerParamFieldFor, lookupMessage, paramDefaults, paramMessageName, V1_LAYER_TYPES, V1_TYPE_NAMES } from '.';

describe('caffe.proto', () => {
  it('the generated text module is in sync with proto/caffe.proto (run npx tsx scripts/gen-proto-text.ts)', () => {
    expect(readFileSync(OUT, 'utf8')).toBe(generate());
  });

  it('the generated field table is in sync with proto/caffe.proto (run npx tsx scripts/gen-fields.ts)', () => {
    expect(readFileSync(FIELDS_OUT, 'utf8')).toBe(generateFields());
  });

  it("has the format's field numbers", () => {
    const f = (m: string, n: string) => lookupMessage(m).fields[n].id;
    expect([
      f('NetParameter', 'layer'),
      f('NetParameter', 'layers'),
      f('NetParameter', 'input_dim'),
      f('NetParameter', 'input_shape'),
    ]).toEqual([100, 2, 4, 8]);
    expect([
      f('LayerParameter', 'blobs'),
      f('LayerParameter', 'convolution_param'),
      f('LayerParameter', 'inner_product_param'),
      f('LayerParameter', 'batch_norm_param'),
      f('LayerParameter', 'scale_param'),
    ]).toEqual([7, 106, 117, 139, 142]);
    expect([
      f('V1LayerParameter', 'blobs'),
      f('V1LayerParameter', 'type'),
      f('V1LayerParameter', 'convolution_param'),
      f('V1LayerParameter', 'inner_product_param'),
    ]).toEqual([6, 5, 10, 17]);
    expect([
      f('BlobProto', 'data'),
      f('BlobProto', 'shape'),
      f('BlobProto', 'double_data'),
      f('BlobProto', 'raw_data_type'),
      f('BlobProto', 'raw_data'),
      f('BlobProto', 'num'),
    ]).toEqual([5, 7, 8, 10, 12, 1]);
    expect([
      f('ConvolutionParameter', 'bias_term'),
      f('InnerProductParameter', 'transpose'),
      f('ScaleParameter', 'bias_term'),
    ]).toEqual([2, 6, 4]);
  });

  it('gives defaults, and no default where Caffe decides by presence', () => {
    expect(paramDefaults('BatchNormParameter')).toEqual({ moving_average_fraction: 0.999, eps: 1e-5 });
    expect(paramDefaults('ScaleParameter')).toMatchObject({ axis: 1, num_axes: 1, bias_term: false });
    expect(paramDefaults('ConvolutionParameter')).toMatchObject({ bias_term: true, group: 1 });
    expect(paramMessageName('convolution_param')).toBe('ConvolutionParameter');
    expect(layerParamFieldFor('Deconvolution')).toBe('convolution_param');
  });

  it("maps every V1 enum to a V2 type name, matching the schema's enum", () => {
    const e = lookupMessage('V1LayerParameter').lookupEnum('LayerType');
    for (const [num, name] of Object.entries(V1_LAYER_TYPES)) {
      expect(e.values[name]).toBe(Number(num));
      expect(V1_TYPE_NAMES[name]).toBeDefined();
    }
    expect(V1_TYPE_NAMES.INNER_PRODUCT).toBe('InnerProduct');
  });
});
