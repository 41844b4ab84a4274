/** Our caffe.proto, loaded with protobufjs: typed access to layer parameters, their defaults, and encoding. */
import protobuf from 'protobufjs';
import { CAFFE_PROTO } from './caffeProtoText';

export { V1_LAYER_TYPES, V1_TYPE_NAMES, v1TypeName } from './v1';

let root: protobuf.Root | undefined;

export function getCaffeRoot(): protobuf.Root {
  if (!root) root = protobuf.parse(CAFFE_PROTO, { keepCase: true }).root;
  return root;
}

export function lookupMessage(name: string): protobuf.Type {
  return getCaffeRoot().lookupType(`caffe.${name}`);
}

const PARAM_FIELD: Record<string, string> = {
  Convolution: 'convolution_param',
  Deconvolution: 'convolution_param',
  ConvolutionDepthwise: 'convolution_param',
  DepthwiseConvolution: 'convolution_param',
  InnerProduct: 'inner_product_param',
  BatchNorm: 'batch_norm_param',
  Scale: 'scale_param',
  Bias: 'bias_param',
  Pooling: 'pooling_param',
  ReLU: 'relu_param',
  PReLU: 'prelu_param',
  ELU: 'elu_param',
  Eltwise: 'eltwise_param',
  Concat: 'concat_param',
  Slice: 'slice_param',
  Softmax: 'softmax_param',
  SoftmaxWithLoss: 'softmax_param',
  Dropout: 'dropout_param',
  LRN: 'lrn_param',
  Reshape: 'reshape_param',
  Flatten: 'flatten_param',
  Power: 'power_param',
  Input: 'input_param',
  Data: 'data_param',
  ImageData: 'image_data_param',
  MemoryData: 'memory_data_param',
  DummyData: 'dummy_data_param',
  Crop: 'crop_param',
  Accuracy: 'accuracy_param',
  Threshold: 'threshold_param',
  Tile: 'tile_param',
  Embed: 'embed_param',
  Exp: 'exp_param',
  Log: 'log_param',
  MVN: 'mvn_param',
  Clip: 'clip_param',
  Swish: 'swish_param',
  Sigmoid: 'sigmoid_param',
  TanH: 'tanh_param',
  ArgMax: 'argmax_param',
  Python: 'python_param',
  PriorBox: 'prior_box_param',
  DetectionOutput: 'detection_output_param',
  Permute: 'permute_param',
  Normalize: 'norm_param',
};

/** The LayerParameter field that holds a layer type's parameters, e.g. 'Convolution' → 'convolution_param'. */
export function layerParamFieldFor(type: string): string | undefined {
  return PARAM_FIELD[type];
}

/** Explicit defaults of a parameter message's scalar fields, from the schema (e.g. ScaleParameter → { axis: 1, … }). */
export function paramDefaults(messageName: string): Record<string, unknown> {
  const t = lookupMessage(messageName);
  const out: Record<string, unknown> = {};
  for (const f of t.fieldsArray) {
    f.resolve();
    if (f.repeated || f.resolvedType instanceof protobuf.Type) continue;
    const d = (f.options as Record<string, unknown> | undefined)?.default;
    if (d !== undefined) out[f.name] = d;
    else if (f.resolvedType instanceof protobuf.Enum) out[f.name] = Object.keys(f.resolvedType.values)[0];
    // No explicit default: Caffe often checks has_…() (e.g. use_global_stats), so none is shown.
  }
  return out;
}

/** The message type name of a LayerParameter field, e.g. 'convolution_param' → 'ConvolutionParameter'. */
export function paramMessageName(fieldName: string, v1 = false): string | undefined {
  const f = lookupMessage(v1 ? 'V1LayerParameter' : 'LayerParameter').fields[fieldName];
  if (!f) return undefined;
  f.resolve();
  return f.resolvedType instanceof protobuf.Type ? f.resolvedType.name : undefined;
}

/** Encode layer parameter messages (as fields of LayerParameter or V1LayerParameter) to wire bytes. */
export function encodeLayerParams(params: Record<string, unknown>, v1: boolean): Uint8Array[] {
  const T = lookupMessage(v1 ? 'V1LayerParameter' : 'LayerParameter');
  const err = T.verify(params);
  if (err) throw new Error(`Layer parameters do not fit caffe.proto: ${err}.`);
  return [T.encode(T.fromObject(params)).finish()];
}
