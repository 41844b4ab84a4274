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
export const quoted = (names: readonly string[], max: number) => `${names.slice(0, max).map((n) => `"${n}"`).join(', ')}${names.length > max ? ', …' : ''}`;

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
  hdf5: { what: 'This is an HDF5 file (.caffemodel.h5), not a Caffe model file.', hint: "Save the weights as a binary .caffemodel (Caffe's net.save) and drop that." },
  pdf: { what: 'This is a PDF document, not a Caffe model file.', hint: DROP_PAIR },
  onnx: { what: 'This looks like an ONNX model, not a Caffe model.', hint: 'Fold ONNX models with onnxoptimizer or onnxsim; caffe-fold reads Caffe .prototxt + .caffemodel pairs.' },
  unknown: { what: 'This is neither a Caffe network definition (text) nor Caffe weights (binary NetParameter).', hint: DROP_PAIR },
} as const satisfies Record<string, { what: string; hint: string }>;

export type FileFormat = keyof typeof FILE_FORMATS;

/** Why a prototxt has no layers to fold or draw. */
export type NoLayers =
  | { why: 'excluded'; count: number; first: string; reason: string }
  | { why: 'empty' }
  | { why: 'no-layers'; inputs: string[] };

const DESCRIBE_NET = 'Give the .prototxt that describes the network: the text file with its layer { name: … type: … } blocks.';
const OTHER_NETWORK = 'These weights belong to another network (or another version of it): give the .caffemodel that was trained with this .prototxt.';

/** A blob count or shape Caffe refuses (core/pairing.ts says which), and how many other layers do not fit either. */
const pairProblem = (p: { problem: string; others: string[] }) => {
  const n = p.others.length;
  return `${upperFirst(p.problem)}${n ? `; ${n} other ${one(n, 'layer does', 'layers do')} not fit either (${quoted(p.others, 3)})` : ''}.`;
};

export const ERRORS = {
  // Files as a whole.
  'file-empty': { what: 'The file is empty.', hint: 'The download or copy may have failed: get the file again.' },
  'file-too-large': {
    what: (p: { bytes: number }) => `The file is ${(p.bytes / 2 ** 30).toFixed(2)} GB; caffe-fold reads files up to 2 GB.`,
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
  'output-is-input': {
    what: (p: { flag: string }) => `The output (${p.flag}) is one of the input files; caffe-fold never overwrites its input.`,
    hint: (p: { flag: string }) => `Choose another name with ${p.flag}.`,
  },

  // The network definition.
  'prototxt-too-large': {
    what: (p: { bytes: number }) => `The network definition is ${(p.bytes / 2 ** 20).toFixed(0)} MB; real ones are well under 10 MB.`,
    hint: 'Check that this is the .prototxt and not the weights.',
  },
  'prototxt-not-text': { what: 'This is a binary file, not a text network definition (.prototxt).', hint: 'Give the deploy .prototxt of the network.' },
  'net-no-layers': {
    what: (p: NoLayers) =>
      p.why === 'excluded'
        ? `All ${p.count} layers are left out in the TEST phase (the first, "${p.first}": ${p.reason}): there is nothing to fold or draw.`
        : p.why === 'empty'
          ? 'The network definition is empty: there is nothing to fold or draw.'
          : p.inputs.length
            ? `The network definition declares ${one(p.inputs.length, 'an input', 'inputs')} (${quoted(p.inputs, 3)}) but no layers: there is nothing to fold or draw.`
            : 'The network definition has no layers (no "layer { … }" blocks): there is nothing to fold or draw.',
    hint: (p: NoLayers) => (p.why === 'excluded' ? 'Give the deploy .prototxt of the network (the one with an Input layer or input_shape).' : DESCRIBE_NET),
  },

  // The pair: does the caffemodel fit the prototxt, as Caffe decides?
  'pair-mismatch': {
    what: (p: { layers: string[] }) => `None of the ${p.layers.length} weighted layers of the caffemodel (${quoted(p.layers, 3)}) is in the prototxt.`,
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
  'fold-no-weights': { what: 'There are no weights to fold.', hint: 'Drop the .caffemodel that goes with this .prototxt.' },

  // The command line's arguments (the CLI prints its usage after these: no hint).
  'usage-needs-value': { what: (p: { flag: string }) => `The option ${p.flag} needs a value.`, hint: '' },
  'usage-unknown-option': { what: (p: { option: string }) => `Unknown option ${p.option}.`, hint: '' },
  'usage-not-a-count': { what: (p: { flag: string; value: string }) => `The option ${p.flag} takes a whole number ≥ 0, not "${p.value}".`, hint: '' },
  'usage-zero-factor': { what: (p: { value: string }) => `The option --zero-factor takes "caffe" or "one", not "${p.value}".`, hint: '' },
  'usage-skip-empty': { what: 'The option --skip needs at least one layer name.', hint: '' },
  'usage-model-required': { what: 'The option --model is required.', hint: '' },
  'usage-against-two-files': { what: 'The option --against needs two files: B.prototxt B.caffemodel.', hint: '' },
  'usage-compare-model': { what: 'The compare command needs --model A.prototxt --weights A.caffemodel.', hint: '' },
  'usage-compare-against': { what: 'The compare command needs --against B.prototxt B.caffemodel.', hint: '' },

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
export type ErrorParams<C extends ErrorCode> = ParamsOf<(typeof ERRORS)[C]['what']> & ParamsOf<(typeof ERRORS)[C]['hint']>;

/** The code's what and hint, filled in. */
export function renderError<C extends ErrorCode>(code: C, params: ErrorParams<C>): { what: string; hint: string } {
  const e: ErrorEntry = ERRORS[code];
  const fill = (t: Template) => (typeof t === 'function' ? (t as (p: ErrorParams<C>) => string)(params) : t);
  return { what: fill(e.what), hint: fill(e.hint) };
}
