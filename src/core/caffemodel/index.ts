export { readCaffemodel, looksLikeCaffemodel, Wire } from './read';
export type { BlobDType, BlobInfo, ModelLayer, CaffeModel, Span } from './read';
export { writeCaffemodel, encodeBlob, ChunkWriter, concatChunks } from './write';
export type { NewBlob, LayerEdit } from './write';
export { encodeCaffemodel } from './encode';
export type { EncodeLayer } from './encode';
export { halfToFloat, floatToHalf, decodeHalf, encodeHalf } from './fp16';
