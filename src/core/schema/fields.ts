// Generated from proto/caffe.proto by scripts/gen-fields.ts — do not edit; run `npx tsx scripts/gen-fields.ts`.

/** caffe.proto's field numbers, by message, for the fields the wire-level reader and writers use. */
export const FIELD = {
  NetParameter: {
    name: 1, // optional string
    input: 3, // repeated string
    input_shape: 8, // repeated BlobShape
    input_dim: 4, // repeated int32
    force_backward: 5, // optional bool
    state: 6, // optional NetState
    debug_info: 7, // optional bool
    layer: 100, // repeated LayerParameter
    layers: 2, // repeated V1LayerParameter
  },
  LayerParameter: {
    name: 1, // optional string
    type: 2, // optional string
    bottom: 3, // repeated string
    top: 4, // repeated string
    blobs: 7, // repeated BlobProto
    convolution_param: 106, // optional ConvolutionParameter
    inner_product_param: 117, // optional InnerProductParameter
    scale_param: 142, // optional ScaleParameter
  },
  V1LayerParameter: {
    bottom: 2, // repeated string
    top: 3, // repeated string
    name: 4, // optional string
    type: 5, // optional LayerType
    blobs: 6, // repeated BlobProto
    convolution_param: 10, // optional ConvolutionParameter
    inner_product_param: 17, // optional InnerProductParameter
  },
  BlobProto: {
    shape: 7, // optional BlobShape
    data: 5, // repeated float
    diff: 6, // repeated float
    double_data: 8, // repeated double
    double_diff: 9, // repeated double
    raw_data_type: 10, // optional Type
    raw_data: 12, // optional bytes
    num: 1, // optional int32
    channels: 2, // optional int32
    height: 3, // optional int32
    width: 4, // optional int32
  },
  BlobShape: {
    dim: 1, // repeated int64
  },
  ConvolutionParameter: {
    bias_term: 2, // optional bool
  },
  InnerProductParameter: {
    bias_term: 2, // optional bool
  },
  ScaleParameter: {
    bias_term: 4, // optional bool
  },
} as const;

/** caffe.proto's enum values, by enum (raw_data_type is a Type). */
export const ENUM = {
  Type: {
    DOUBLE: 0,
    FLOAT: 1,
    FLOAT16: 2,
    INT: 3,
    UINT: 4,
  },
} as const;
