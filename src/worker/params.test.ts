import { describe, expect, it } from 'vitest';
import { parsePrototxt } from '../core/prototxt';
import { buildNet } from '../core/net';
import { layerParams } from './params';

const layer = (text: string) =>
  buildNet(parsePrototxt(`input: "data" input_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n${text}`)).layers[0];

describe('layerParams', () => {
  it('lists what the file says and marks schema defaults as such', () => {
    const groups = layerParams(
      layer('layer { name: "bn" type: "BatchNorm" bottom: "data" top: "data" batch_norm_param { eps: 0.001 } }'),
    );
    const bn = groups.find((g) => g.name === 'batch_norm_param')!;
    expect(bn.entries.find((e) => e.key === 'eps')).toEqual({ key: 'eps', value: '0.001', isDefault: false });
    const maf = bn.entries.find((e) => e.key === 'moving_average_fraction')!;
    expect(maf.isDefault).toBe(true);
    expect(Number(maf.value)).toBeCloseTo(0.999, 6);
  });
  it('joins repeated fields and shows defaults even when the param block is absent', () => {
    const g = layerParams(
      layer(
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 2 kernel_size: 3 kernel_size: 1 } }',
      ),
    );
    const cp = g.find((x) => x.name === 'convolution_param')!;
    expect(cp.entries.find((e) => e.key === 'kernel_size')!.value).toBe('3, 1');
    expect(cp.entries.find((e) => e.key === 'bias_term')).toMatchObject({ isDefault: true, value: 'true' });
    const s = layerParams(layer('layer { name: "s" type: "Scale" bottom: "data" top: "data" }'));
    expect(s.find((x) => x.name === 'scale_param')!.entries.every((e) => e.isDefault)).toBe(true);
  });
});
