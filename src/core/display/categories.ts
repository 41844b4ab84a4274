/** Layer categories for colouring the graph. Pure and cheap: the UI imports it at run time. */
export type Category = 'convolution' | 'normalisation' | 'activation' | 'pooling' | 'data' | 'other';

export const CATEGORIES: readonly Category[] = [
  'convolution',
  'normalisation',
  'activation',
  'pooling',
  'data',
  'other',
];

export const CATEGORY_LABEL: Record<Category, string> = {
  convolution: 'Conv / dense',
  normalisation: 'Normalisation',
  activation: 'Activation',
  pooling: 'Pooling',
  data: 'Input',
  other: 'Other',
};

const BY_TYPE: Record<string, Category> = {};
const put = (c: Category, types: string[]) => types.forEach((t) => (BY_TYPE[t.toLowerCase()] = c));
put('convolution', [
  'Convolution',
  'Deconvolution',
  'InnerProduct',
  'DepthwiseConvolution',
  'ConvolutionDepthwise',
  'DepthwiseConv',
  'Embed',
  'RNN',
  'LSTM',
  'Im2col',
]);
put('normalisation', [
  'BatchNorm',
  'Scale',
  'Bias',
  'LRN',
  'MVN',
  'Normalize',
  'BN',
  'InstanceNorm',
  'GroupNorm',
  'LayerNorm',
]);
put('activation', [
  'ReLU',
  'PReLU',
  'ELU',
  'Sigmoid',
  'TanH',
  'Tanh',
  'Swish',
  'Power',
  'Exp',
  'Log',
  'AbsVal',
  'BNLL',
  'Threshold',
  'Clip',
  'ReLU6',
  'Softmax',
  'SoftmaxWithLoss',
  'Dropout',
  'HardSwish',
  'HardSigmoid',
  'Mish',
]);
put('pooling', ['Pooling', 'SPP', 'ROIPooling', 'PSROIPooling', 'Upsample', 'Interp']);
put('data', [
  'Input',
  'Data',
  'ImageData',
  'HDF5Data',
  'MemoryData',
  'DummyData',
  'WindowData',
  'AnnotatedData',
  'Python',
  'Net input',
]);

/** The colour category of a layer type (V2 type string; unknown types are 'other'). */
export function layerCategory(type: string): Category {
  return BY_TYPE[type.toLowerCase()] ?? 'other';
}
