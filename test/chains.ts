/** Small nets around one fold chain, for the regression tests of the rewiring and the graph fuzzer. */
import { blob, bnBlobs, randn, type TestLayer, type TestNet } from './build';

/** The reproducer: conv's output is read twice, an in-place ReLU overwrites it between bn and sc. */
export const REPRODUCER: TestNet = {
  input: { name: 'data', shape: [1, 3, 6, 6] },
  layers: [
    {
      name: 'conv',
      type: 'Convolution',
      bottoms: ['data'],
      tops: ['x'],
      text: 'convolution_param { num_output: 4 kernel_size: 3 pad: 1 }',
      blobs: [blob([4, 3, 3, 3]), blob([4])],
    },
    { name: 'bn', type: 'BatchNorm', bottoms: ['x'], tops: ['x_bn'], blobs: bnBlobs(4).blobs },
    { name: 'relu_x', type: 'ReLU', bottoms: ['x'], tops: ['x'] },
    {
      name: 'sc',
      type: 'Scale',
      bottoms: ['x_bn'],
      tops: ['x_sc'],
      text: 'scale_param { bias_term: true }',
      blobs: [blob([4]), blob([4])],
    },
    { name: 'sum', type: 'Eltwise', bottoms: ['x', 'x_sc'], tops: ['out'] },
  ],
};

/** Nets around one chain, with the awkward company that name-based rewrites get wrong. */
type Producer = 'Convolution' | 'Deconvolution' | 'InnerProduct' | 'Depthwise';
type Company = 'none' | 'inplace-before-bn' | 'inplace-between' | 'branch-producer' | 'branch-bn' | 'join';

export function chainNet(producer: Producer, bnInPlace: boolean, scaleInPlace: boolean, company: Company): TestNet {
  const C = 4;
  const p: TestLayer =
    producer === 'InnerProduct'
      ? {
          name: 'p',
          type: 'InnerProduct',
          bottoms: ['data'],
          tops: ['x'],
          text: `inner_product_param { num_output: ${C} }`,
          blobs: [blob([C, 4 * 5 * 5], randn(C * 100, 0.14)), blob([C])],
        }
      : producer === 'Deconvolution'
        ? {
            name: 'p',
            type: 'Deconvolution',
            bottoms: ['data'],
            tops: ['x'],
            text: `convolution_param { num_output: ${C} kernel_size: 3 pad: 1 group: 2 }`,
            blobs: [blob([4, C / 2, 3, 3]), blob([C])],
          }
        : producer === 'Depthwise'
          ? {
              name: 'p',
              type: 'Convolution',
              bottoms: ['data'],
              tops: ['x'],
              text: `convolution_param { num_output: ${C} kernel_size: 3 pad: 1 group: 4 bias_term: false }`,
              blobs: [blob([C, 1, 3, 3])],
            }
          : {
              name: 'p',
              type: 'Convolution',
              bottoms: ['data'],
              tops: ['x'],
              text: `convolution_param { num_output: ${C} kernel_size: 1 bias_term: false }`,
              blobs: [blob([C, 4, 1, 1])],
            };
  const y = bnInPlace ? 'x' : 'y';
  const z = scaleInPlace ? y : 'z';
  const layers: TestLayer[] = [p];
  if (company === 'inplace-before-bn') layers.push({ name: 'act', type: 'ReLU', bottoms: ['x'], tops: ['x'] });
  if (company === 'branch-producer') layers.push({ name: 'side', type: 'ReLU', bottoms: ['x'], tops: ['side'] });
  layers.push({ name: 'bn', type: 'BatchNorm', bottoms: ['x'], tops: [y], blobs: bnBlobs(C).blobs });
  if (company === 'inplace-between' && !bnInPlace)
    layers.push({ name: 'act', type: 'ReLU', bottoms: ['x'], tops: ['x'] });
  if (company === 'branch-bn') layers.push({ name: 'side', type: 'Sigmoid', bottoms: [y], tops: ['side'] });
  layers.push({
    name: 'sc',
    type: 'Scale',
    bottoms: [y],
    tops: [z],
    text: 'scale_param { bias_term: true }',
    blobs: [blob([C]), blob([C])],
  });
  if (company === 'join' || company === 'inplace-between' || company === 'branch-producer') {
    const other = company === 'branch-producer' ? 'side' : 'x';
    if (other !== z) layers.push({ name: 'join', type: 'Eltwise', bottoms: [other, z], tops: ['out'] });
  }
  return { input: { name: 'data', shape: [1, 4, 5, 5] }, layers };
}

export function chainNets(): { label: string; net: TestNet }[] {
  const out: { label: string; net: TestNet }[] = [];
  for (const producer of ['Convolution', 'Deconvolution', 'InnerProduct', 'Depthwise'] as Producer[]) {
    for (const bnInPlace of [false, true]) {
      for (const scaleInPlace of [false, true]) {
        for (const company of [
          'none',
          'inplace-before-bn',
          'inplace-between',
          'branch-producer',
          'branch-bn',
          'join',
        ] as Company[]) {
          if (company === 'inplace-between' && bnInPlace) continue;
          out.push({
            label: `${producer} BN${bnInPlace ? ' in place' : ''} Scale${scaleInPlace ? ' in place' : ''} ${company}`,
            net: chainNet(producer, bnInPlace, scaleInPlace, company),
          });
        }
      }
    }
  }
  return out;
}
