import { describe, expect, it } from 'vitest';
import { MAX_FILE_BYTES } from '../display/files';
import {
  ERRORS,
  FILE_FORMATS,
  caffeError,
  checkFileSize,
  isCaffeFoldError,
  renderError,
  type ErrorCode,
  type ErrorParams,
  type FileFormat,
} from '.';

/** Parameters for every code (every variant of its templates): a new code without samples does not compile. */
const SAMPLES: { [C in ErrorCode]: ErrorParams<C>[] } = {
  'file-empty': [{}],
  'file-too-large': [{ bytes: MAX_FILE_BYTES + 1 }, { bytes: 3 * 2 ** 30 }],
  'file-unsupported': (Object.keys(FILE_FORMATS) as FileFormat[]).map((format) => ({ format })),
  'file-swapped': [{}],
  'file-unreadable': [{ reason: 'there is no such file' }, { reason: "EMFILE: too many open files, open 'x'" }],
  'file-unwritable': [{ reason: 'permission denied' }],
  'file-vanished': [{}],
  'files-too-many': [
    { count: 3, compare: false },
    { count: 4, compare: true },
  ],
  'two-prototxt': [{ names: ['a.prototxt', 'b.prototxt'] }],
  'two-caffemodel': [{ names: ['a.caffemodel', 'b.caffemodel'] }],
  'sample-missing': [{ name: 'sample', status: 404 }],
  'output-is-input': [{ flag: '--output_weights' }],
  'prototxt-too-large': [{ bytes: 300 * 2 ** 20 }],
  'prototxt-not-text': [{}],
  'prototxt-syntax': [
    { why: 'number', found: '"x"' },
    { why: 'field-name', found: '"@"' },
    { why: 'malformed-number', found: '"12abc"' },
    { why: 'unopened', found: '"}"' },
    { why: 'value', found: 'end of line' },
    { why: 'value', field: 'a', found: 'end of file' },
    { why: 'colon', field: 'name', found: '"x"' },
    { why: 'list-separator', field: 'dim', found: '"3"' },
    { why: 'list-value', field: 'dim', found: '"]"' },
    { why: 'unclosed', close: '}', field: 'layer', opened: '1:7', found: 'end of file' },
    { why: 'unclosed', close: ']', field: 'dim', opened: '2:8', found: 'end of file' },
    { why: 'unclosed', close: '>', field: 'param', opened: '3:9', found: '"}"' },
    { why: 'string', opened: '4:7' },
    { why: 'too-deep', max: 100 },
  ],
  'net-mixed-format': [{ layer: 2, layers: 3 }],
  'net-bad-layer': [{ field: 'layer' }],
  'net-training-only': [
    {
      layer: 'conv1',
      type: 'Convolution',
      bottom: 'data',
      producer: 'data',
      producerType: 'Data',
      phase: 'TEST',
      reason: 'include { phase TRAIN } does not match TEST',
    },
  ],
  'net-unknown-bottom': [{ layer: 'conv1', type: 'Convolution', bottom: 'dta' }],
  'caffemodel-not-binary': [{}],
  'caffemodel-truncated': [
    { part: 'varint' },
    { part: 'fixed64' },
    { part: 'fixed32' },
    { part: 'double' },
    { part: 'float' },
    { part: 'field', bytes: 400, remain: 12 },
  ],
  'caffemodel-invalid': [
    { why: 'long-varint' },
    { why: 'field-zero' },
    { why: 'packed', type: 'float' },
    { why: 'packed', type: 'double' },
    { why: 'raw-data', bytes: 7, size: 2 },
  ],
  'caffemodel-wiretype': [{ wire: 6 }],
  'caffemodel-unsupported': [{ rawType: 3 }],
  'net-no-layers': [
    { why: 'excluded', count: 2, first: 'data', reason: 'include { phase TRAIN } does not match TEST' },
    { why: 'empty' },
    { why: 'no-layers', inputs: ['data'] },
    { why: 'no-layers', inputs: ['a', 'b', 'c', 'd'] },
    { why: 'no-layers', inputs: [] },
  ],
  'pair-mismatch': [{ layers: ['conv1', 'bn1', 'sc1', 'fc'] }, { layers: ['conv1'] }],
  'pair-blob-count': [
    {
      problem: 'convolution layer "c" has 1 blob in the caffemodel ([4, 3, 3, 3]), but the prototxt makes 2',
      others: [],
    },
    { problem: 'Convolution layer "c" has 1 blob', others: ['d'] },
  ],
  'pair-blob-shape': [
    { problem: 'param 0 (mean) of BatchNorm layer "b" has the shape [5]', others: ['x', 'y', 'z', 'w'] },
  ],
  'pair-missing-weights': [
    { missing: ['fc'], noneAtAll: false },
    { missing: ['c', 'b', 'fc', 'd', 'e', 'f'], noneAtAll: true },
  ],
  'fold-no-weights': [{}],
  'fold-structure': [
    { problem: 'layer "r" would read "x" as the output of "bn" instead of the output of "conv"', blob: 'x' },
    { problem: 'the folded text does not read back as a network (Expected a value, found end of file)', blob: '' },
  ],
  'usage-needs-value': [{ flag: '--model' }],
  'usage-unknown-option': [{ option: '--bogus' }],
  'usage-not-a-count': [{ flag: '--seed', value: '-1' }],
  'usage-zero-factor': [{ value: 'two' }],
  'usage-skip-empty': [{}],
  'usage-model-required': [{}],
  'usage-against-two-files': [{}],
  'usage-compare-model': [{}],
  'usage-compare-against': [{}],
  'worker-stopped': [{ reason: 'Uncaught RangeError: Array buffer allocation failed' }],
  'check-worker-stopped': [{ reason: 'Out of memory' }, { reason: 'the worker was terminated.' }],
  internal: [{ message: 'x is undefined' }, { message: 'Wrote 3 of 5 bytes.' }],
};

/** A sentence as shown: a capital letter (or a number) first, a full stop last, and no space before it. */
const SENTENCE = /^[A-Z0-9].*[^\s]\.$/s;

describe('the table of errors', () => {
  it('has samples for every code, and nothing else', () => {
    expect(Object.keys(SAMPLES).sort()).toEqual(Object.keys(ERRORS).sort());
  });

  it.each(Object.keys(ERRORS) as ErrorCode[])('%s: what is a sentence; the hint is a sentence or empty', (code) => {
    for (const params of SAMPLES[code]) {
      const { what, hint } = renderError(code, params as never);
      expect(what, `${code} ${JSON.stringify(params)}`).toMatch(SENTENCE);
      if (hint !== '') expect(hint, `${code} ${JSON.stringify(params)}`).toMatch(SENTENCE);
    }
  });

  it('builds typed errors: code, what, where, hint, and one message for the command line', () => {
    const e = caffeError('file-empty', {}, { kind: 'file', file: 'a.caffemodel' });
    expect(isCaffeFoldError(e)).toBe(true);
    expect(e).toMatchObject({
      code: 'file-empty',
      what: 'The file is empty.',
      hint: 'The download or copy may have failed: get the file again.',
    });
    expect(e.message).toBe(
      'a.caffemodel: The file is empty. The download or copy may have failed: get the file again.',
    );
    expect(caffeError('usage-skip-empty', {}).message).toBe('The option --skip needs at least one layer name.');
    expect(caffeError('file-unsupported', { format: 'onnx' }).hint).toMatch(/onnxsim/);
  });
});

describe('checkFileSize', () => {
  it('refuses a file over 2 GB, naming it, and takes one of 2 GB', () => {
    expect(() => checkFileSize('big.caffemodel', MAX_FILE_BYTES)).not.toThrow();
    let e: unknown;
    try {
      // A size, not bytes: nothing is allocated.
      checkFileSize('big.caffemodel', MAX_FILE_BYTES + 1);
    } catch (x) {
      e = x;
    }
    expect(isCaffeFoldError(e) && e.code).toBe('file-too-large');
    expect((e as Error).message).toBe(
      'big.caffemodel: The file is 2.00 GB; caffe-fold reads files up to 2 GB. Caffe itself cannot read protobuf messages over 2 GB either: check the file.',
    );
  });
});
