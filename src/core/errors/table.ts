/**
 * Every error caffe-fold shows, keyed by its stable code: what is wrong and what to do, as templates of the
 * error's parameters (xyflow keeps its messages the same way). The page shows `what` and `hint` apart, the CLI as
 * one line after the location; both are whole sentences: a capital letter (or a number) first, a full stop last
 * (errors.test.ts renders every entry to hold it to that). An empty hint: nothing to add (the CLI prints its usage).
 */

/** A message, or a template of the error's parameters. */
type Template = string | ((p: never) => string);

export interface ErrorEntry {
  /** What is wrong, without the location. */
  what: Template;
  /** What the user can do about it. */
  hint: Template;
}

/** `"a", "b", "c", …`: the first `max` names, quoted. */
export const quoted = (names: readonly string[], max: number) =>
  `${names
    .slice(0, max)
    .map((n) => `"${n}"`)
    .join(', ')}${names.length > max ? ', …' : ''}`;

/** The sentence with a full stop at its end (a message from elsewhere may have none). */
export const stop = (s: string) => (/[.!?]$/.test(s.trimEnd()) ? s.trimEnd() : `${s.trimEnd()}.`);

const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const one = (n: number, single: string, many: string) => (n === 1 ? single : many);

const DROP_PAIR = 'Drop the network definition (.prototxt) and its weights (.caffemodel).';
const UNPACK = 'Unpack it first and drop the .prototxt and .caffemodel inside.';

/** Files that are not Caffe models, told apart by their first bytes (core/pipeline.ts), and what to do with each. */
export const FILE_FORMATS = {
  png: { what: 'This is a PNG image, not a Caffe model file.', hint: DROP_PAIR },
  jpeg: { what: 'This is a JPEG image, not a Caffe model file.', hint: DROP_PAIR },
  gif: { what: 'This is a GIF image, not a Caffe model file.', hint: DROP_PAIR },
  zip: { what: 'This is a zip archive, not a Caffe model file.', hint: UNPACK },
  gzip: { what: 'This is a gzip archive, not a Caffe model file.', hint: UNPACK },
  hdf5: {
    what: 'This is an HDF5 file (.caffemodel.h5), not a Caffe model file.',
    hint: "Save the weights as a binary .caffemodel (Caffe's net.save) and drop that.",
  },
  pdf: { what: 'This is a PDF document, not a Caffe model file.', hint: DROP_PAIR },
  onnx: {
    what: 'This looks like an ONNX model, not a Caffe model.',
    hint: 'Fold ONNX models with onnxoptimizer or onnxsim; caffe-fold reads Caffe .prototxt + .caffemodel pairs.',
  },
  unknown: {
    what: 'This is neither a Caffe network definition (text) nor Caffe weights (binary NetParameter).',
    hint: DROP_PAIR,
  },
} as const satisfies Record<string, { what: string; hint: string }>;

export type FileFormat = keyof typeof FILE_FORMATS;

/** Why a prototxt has no layers to fold or draw. */
export type NoLayers =
  | { why: 'excluded'; count: number; first: string; reason: string }
  | { why: 'empty' }
  | { why: 'no-layers'; inputs: string[] };

const DESCRIBE_NET =
  'Give the .prototxt that describes the network: the text file with its layer { name: … type: … } blocks.';
const OTHER_NETWORK =
  'These weights belong to another network (or another version of it): give the .caffemodel that was trained with this .prototxt.';

/** A blob count or shape Caffe refuses (core/pairing.ts says which), and how many other layers do not fit either. */
const pairProblem = (p: { problem: string; others: string[] }) => {
  const n = p.others.length;
  return `${upperFirst(p.problem)}${n ? `; ${n} other ${one(n, 'layer does', 'layers do')} not fit either (${quoted(p.others, 3)})` : ''}.`;
};

/**
 * Where the prototxt parser could not go on (core/prototxt/parse.ts): what it expected, and what it found there
 * (`found`: a quoted token, "end of line" or "end of file"). Positions (`opened`) are line:col.
 */
export type PrototxtSyntax =
  | { why: 'number' | 'field-name' | 'malformed-number' | 'unopened'; found: string }
  | { why: 'value'; field?: string; found: string }
  | { why: 'colon' | 'list-separator' | 'list-value'; field: string; found: string }
  | { why: 'unclosed'; close: string; field: string; opened: string; found: string }
  | { why: 'string'; opened: string }
  | { why: 'too-deep'; max: number };

const syntaxWhat = (p: PrototxtSyntax): string => {
  switch (p.why) {
    case 'number':
      return `Expected a number, found ${p.found}.`;
    case 'field-name':
      return `Expected a field name, found ${p.found}.`;
    case 'malformed-number':
      return `Malformed number ${p.found}.`;
    case 'unopened':
      return `Unexpected ${p.found}: nothing is open here.`;
    case 'value':
      return `Expected a value${p.field === undefined ? '' : ` for "${p.field}"`}, found ${p.found}.`;
    case 'colon':
      return `Expected ':' or '{' after "${p.field}", found ${p.found}.`;
    case 'list-separator':
      return `Expected ',' or ']' in the list of "${p.field}", found ${p.found}.`;
    case 'list-value':
      return `Expected a value after ',' in the list of "${p.field}", found ${p.found}.`;
    case 'unclosed':
      return `Expected '${p.close}' to close ${p.close === ']' ? 'the list of ' : ''}"${p.field}" opened at ${p.opened}, found ${p.found}.`;
    case 'string':
      return `Unterminated string starting at ${p.opened}.`;
    case 'too-deep':
      return `Messages nested more than ${p.max} deep.`;
  }
};

const syntaxHint = (p: PrototxtSyntax): string => {
  switch (p.why) {
    case 'string':
      return 'Close the string with the same quote on the same line.';
    case 'malformed-number':
      return 'Write numbers like 3, -0.5, 1e-5 or 0x1F.';
    case 'too-deep':
      return 'This is not a Caffe network definition: give the .prototxt of the network.';
    case 'unopened':
      return 'Check the braces above this line.';
    case 'unclosed':
      if (p.found !== 'end of file') return 'Check the braces above this line.';
      return p.close === ']' ? 'A closing bracket is missing.' : 'A closing brace is missing.';
    default:
      return 'Fix the text at that position: a prototxt is protobuf text format, name: value or name { … }.';
  }
};

/** What of a caffemodel runs past the end of its message (core/caffemodel/read.ts). */
export type Truncated =
  { part: 'varint' | 'fixed64' | 'fixed32' | 'double' | 'float' } | { part: 'field'; bytes: number; remain: number };

const truncatedWhat = (p: Truncated): string => {
  switch (p.part) {
    case 'varint':
      return 'A number (varint) runs past the end of its message.';
    case 'fixed64':
      return 'An 8-byte field runs past the end of its message.';
    case 'fixed32':
      return 'A 4-byte field runs past the end of its message.';
    case 'double':
      return 'A double runs past the end of its message.';
    case 'float':
      return 'A float runs past the end of its message.';
    case 'field':
      return `A field says it is ${p.bytes} bytes long, but only ${p.remain} remain.`;
  }
};

/** What is not protobuf, or not a blob, in a caffemodel (core/caffemodel/read.ts). */
export type Invalid =
  | { why: 'long-varint' | 'field-zero' }
  | { why: 'packed'; type: 'float' | 'double' }
  | { why: 'raw-data'; bytes: number; size: number };

const invalidWhat = (p: Invalid): string => {
  switch (p.why) {
    case 'long-varint':
      return 'A number (varint) is longer than 10 bytes.';
    case 'field-zero':
      return 'A field has the number 0, which protobuf does not allow.';
    case 'packed':
      return `Packed ${p.type} data is not a multiple of ${p.type === 'float' ? 4 : 8} bytes.`;
    case 'raw-data':
      return `The raw_data of ${p.bytes} bytes is not a whole number of ${p.size}-byte values.`;
  }
};

const DAMAGED = 'The file is damaged, or is not a Caffe .caffemodel (binary NetParameter): get the weights file again.';

export const ERRORS = {
  // Files as a whole.
  'file-empty': { what: 'The file is empty.', hint: 'The download or copy may have failed: get the file again.' },
  'file-too-large': {
    what: (p: { bytes: number }) =>
      `The file is ${(p.bytes / 2 ** 30).toFixed(2)} GB; caffe-fold reads files up to 2 GB.`,
    hint: 'Caffe itself cannot read protobuf messages over 2 GB either: check the file.',
  },
  'file-unsupported': {
    what: (p: { format: FileFormat }) => FILE_FORMATS[p.format].what,
    hint: (p: { format: FileFormat }) => FILE_FORMATS[p.format].hint,
  },
  'file-swapped': {
    what: 'This is a binary .caffemodel (the weights), given where the network definition (.prototxt) was expected.',
    hint: 'Give the .prototxt as the model and the .caffemodel as the weights.',
  },
  'file-unreadable': {
    what: (p: { reason: string }) => `The file cannot be read: ${stop(p.reason)}`,
    hint: 'Check the path, and that you may read the file.',
  },
  'file-unwritable': {
    what: (p: { reason: string }) => `The file cannot be written: ${stop(p.reason)}`,
    hint: 'Check that its folder exists and that you may write there.',
  },
  'file-vanished': {
    what: 'The file cannot be read any more: it may have been moved or deleted since it was chosen.',
    hint: 'Choose it again.',
  },
  'files-too-many': {
    what: (p: { count: number; compare: boolean }) =>
      `${p.count} files were given; ${p.compare ? 'each side takes one .prototxt and one .caffemodel' : 'caffe-fold takes one .prototxt and optionally its .caffemodel'}.`,
    hint: (p: { compare: boolean }) =>
      p.compare
        ? 'Give each side its .prototxt and its .caffemodel.'
        : 'Open the network description (.prototxt) and, if you want the weights folded too, its .caffemodel.',
  },
  'two-prototxt': {
    what: (p: { names: string[] }) => `Both files are network descriptions (.prototxt): ${quoted(p.names, 2)}.`,
    hint: 'Give one .prototxt together with its .caffemodel (the binary weights).',
  },
  'two-caffemodel': {
    what: (p: { names: string[] }) => `Both files are weights (.caffemodel): ${quoted(p.names, 2)}.`,
    hint: 'Give one .caffemodel together with the .prototxt that describes its network.',
  },
  'sample-missing': {
    what: (p: { name: string; status: number }) =>
      `The bundled sample "${p.name}" could not be loaded (HTTP ${p.status}).`,
    hint: 'This build has no sample model; open your own files instead.',
  },
  'output-is-input': {
    what: (p: { flag: string }) =>
      `The output (${p.flag}) is one of the input files; caffe-fold never overwrites its input.`,
    hint: (p: { flag: string }) => `Choose another name with ${p.flag}.`,
  },

  // The network definition.
  'prototxt-too-large': {
    what: (p: { bytes: number }) =>
      `The network definition is ${(p.bytes / 2 ** 20).toFixed(0)} MB; real ones are well under 10 MB.`,
    hint: 'Check that this is the .prototxt and not the weights.',
  },
  'prototxt-not-text': {
    what: 'This is a binary file, not a text network definition (.prototxt).',
    hint: 'Give the deploy .prototxt of the network.',
  },
  'prototxt-syntax': { what: syntaxWhat, hint: syntaxHint },
  'net-mixed-format': {
    what: (p: { layer: number; layers: number }) =>
      `The file mixes new "layer {" and old "layers {" blocks (${p.layer} and ${p.layers}); Caffe refuses such a net ("inconsistent NetParameter").`,
    hint: 'Upgrade the old "layers" blocks with Caffe\'s upgrade_net_proto_text tool, or keep one form.',
  },
  'net-bad-layer': {
    what: (p: { field: string }) => `The field "${p.field}" must be a block { … }.`,
    hint: 'Write the layer as layer { name: … type: … }.',
  },
  'net-training-only': {
    what: (p: {
      layer: string;
      type: string;
      bottom: string;
      producer: string;
      producerType: string;
      phase: string;
      reason: string;
    }) =>
      `Layer "${p.layer}" (${p.type}) reads "${p.bottom}", which only ${p.producerType} layer "${p.producer}" produces, and that layer is left out in the ${p.phase} phase (${p.reason}): this looks like a training net.`,
    hint: 'Fold the deploy prototxt (the one with an Input layer or input_shape), not the train/val one.',
  },
  'net-unknown-bottom': {
    what: (p: { layer: string; type: string; bottom: string }) =>
      `Layer "${p.layer}" (${p.type}) reads blob "${p.bottom}", which no earlier layer or input produces.`,
    hint: 'Check the bottom name for a typo, or that the producing layer comes first and is not excluded in the TEST phase.',
  },

  // The weights.
  'caffemodel-not-binary': {
    what: 'This is not a Caffe .caffemodel (binary NetParameter).',
    hint: 'Give the weights file that Caffe saved (.caffemodel); a text file is the .prototxt.',
  },
  'caffemodel-truncated': {
    what: truncatedWhat,
    hint: 'The file looks cut short or damaged: download or copy it again.',
  },
  'caffemodel-invalid': { what: invalidWhat, hint: DAMAGED },
  'caffemodel-wiretype': { what: (p: { wire: number }) => `Wire type ${p.wire} is not valid here.`, hint: DAMAGED },
  'caffemodel-unsupported': {
    what: (p: { rawType: number }) => `Blobs of raw_data_type ${p.rawType} (integers) are not supported.`,
    hint: 'Only float, double and fp16 blobs can be folded.',
  },
  'net-no-layers': {
    what: (p: NoLayers) =>
      p.why === 'excluded'
        ? `All ${p.count} layers are left out in the TEST phase (the first, "${p.first}": ${p.reason}): there is nothing to fold or draw.`
        : p.why === 'empty'
          ? 'The network definition is empty: there is nothing to fold or draw.'
          : p.inputs.length
            ? `The network definition declares ${one(p.inputs.length, 'an input', 'inputs')} (${quoted(p.inputs, 3)}) but no layers: there is nothing to fold or draw.`
            : 'The network definition has no layers (no "layer { … }" blocks): there is nothing to fold or draw.',
    hint: (p: NoLayers) =>
      p.why === 'excluded'
        ? 'Give the deploy .prototxt of the network (the one with an Input layer or input_shape).'
        : DESCRIBE_NET,
  },

  // The pair: does the caffemodel fit the prototxt, as Caffe decides?
  'pair-mismatch': {
    what: (p: { layers: string[] }) =>
      `None of the ${p.layers.length} weighted layers of the caffemodel (${quoted(p.layers, 3)}) is in the prototxt.`,
    hint: 'These weights belong to another network: drop the .prototxt that was trained with them.',
  },
  'pair-blob-count': { what: pairProblem, hint: OTHER_NETWORK },
  'pair-blob-shape': { what: pairProblem, hint: OTHER_NETWORK },
  'pair-missing-weights': {
    what: (p: { missing: string[]; noneAtAll: boolean }) => {
      const n = p.missing.length;
      return `${n} ${one(n, 'layer', 'layers')} of the prototxt ${one(n, 'needs weights and has', 'need weights and have')} none in the caffemodel${p.noneAtAll ? ' (the caffemodel holds no weights at all)' : ''}: ${quoted(p.missing, 5)}; Caffe would leave ${one(n, 'it at its', 'them at their')} initial values.`;
    },
    hint: (p: { missing: string[] }) =>
      `Give the .caffemodel that was trained with this .prototxt; if ${one(p.missing.length, 'this layer is meant to keep its', 'these layers are meant to keep their')} initial values, load anyway (command line: --allow-missing-weights).`,
  },

  // Folding.
  'fold-no-weights': {
    what: 'There are no weights to fold.',
    hint: 'Drop the .caffemodel that goes with this .prototxt.',
  },
  'fold-structure': {
    what: (p: { problem: string; blob?: string }) =>
      `The folded network would not compute what the original computes: ${p.problem}${p.blob ? ` (blob "${p.blob}")` : ''}.`,
    hint: 'Nothing was written. This is a bug in caffe-fold: please report it with the .prototxt, and meanwhile fold with --skip for the chains around this layer.',
  },

  // The command line's arguments (the CLI prints its usage after these: no hint).
  'usage-needs-value': { what: (p: { flag: string }) => `The option ${p.flag} needs a value.`, hint: '' },
  'usage-unknown-option': { what: (p: { option: string }) => `Unknown option ${p.option}.`, hint: '' },
  'usage-not-a-count': {
    what: (p: { flag: string; value: string }) => `The option ${p.flag} takes a whole number ≥ 0, not "${p.value}".`,
    hint: '',
  },
  'usage-zero-factor': {
    what: (p: { value: string }) => `The option --zero-factor takes "caffe" or "one", not "${p.value}".`,
    hint: '',
  },
  'usage-skip-empty': { what: 'The option --skip needs at least one layer name.', hint: '' },
  'usage-model-required': { what: 'The option --model is required.', hint: '' },
  'usage-against-two-files': { what: 'The option --against needs two files: B.prototxt B.caffemodel.', hint: '' },
  'usage-compare-model': { what: 'The compare command needs --model A.prototxt --weights A.caffemodel.', hint: '' },
  'usage-compare-against': { what: 'The compare command needs --against B.prototxt B.caffemodel.', hint: '' },

  // The whole-net check in the page.
  'worker-stopped': {
    what: (p: { reason: string }) => `The background worker stopped: ${stop(p.reason)}`,
    hint: 'It may have run out of memory. Try again; your files were not changed.',
  },
  'check-worker-stopped': {
    what: (p: { reason: string }) => `The check's worker stopped: ${stop(p.reason)}`,
    hint: 'The engine may have run out of memory; try again, or check a smaller model.',
  },

  // Not the user's doing.
  internal: {
    what: (p: { message: string }) => `Something went wrong inside caffe-fold: ${stop(p.message)}`,
    hint: 'This is a bug in caffe-fold, not in your files. Please report it with the files if you can share them.',
  },
} as const satisfies Record<string, ErrorEntry>;

export type ErrorCode = keyof typeof ERRORS;

/** The codes of the command line's usage errors (the CLI prints its usage after them and exits 2). */
export type UsageCode = Extract<ErrorCode, `usage-${string}`>;

type ParamsOf<T> = T extends (p: infer P) => string ? P : object;

/** The parameters a code's templates take (`{}` for a code whose message is fixed). */
export type ErrorParams<C extends ErrorCode> = ParamsOf<(typeof ERRORS)[C]['what']> &
  ParamsOf<(typeof ERRORS)[C]['hint']>;

/** The code's what and hint, filled in. */
export function renderError<C extends ErrorCode>(code: C, params: ErrorParams<C>): { what: string; hint: string } {
  const e: ErrorEntry = ERRORS[code];
  const fill = (t: Template) => (typeof t === 'function' ? (t as (p: ErrorParams<C>) => string)(params) : t);
  return { what: fill(e.what), hint: fill(e.hint) };
}
