/**
 * Typed errors of the core. Every error a user can cause by giving us a bad file is one of these:
 * it says what is wrong, where (line:col in text, byte offset in binary, or a layer name) and what to do.
 * The messages are in one table (./table.ts), keyed by code; `caffeError` builds the error of a code.
 * Anything else thrown from core is a bug.
 */
import { MAX_FILE_BYTES } from '../display/files';
import { renderError, type ErrorCode, type ErrorParams } from './table';

export {
  ERRORS,
  FILE_FORMATS,
  quoted,
  renderError,
  stop,
  type ErrorCode,
  type ErrorEntry,
  type ErrorParams,
  type FileFormat,
  type Invalid,
  type NoLayers,
  type PrototxtSyntax,
  type Truncated,
  type UsageCode,
} from './table';

export type ErrorWhere =
  | { kind: 'text'; file?: string; line: number; col: number; offset: number }
  | { kind: 'binary'; file?: string; offset: number }
  | { kind: 'layer'; file?: string; layer: string }
  | { kind: 'file'; file?: string };

/** Build one with `caffeError(code, params, where)`, or `new CaffeFoldError(code, params, where)` to extend it. */
export class CaffeFoldError<C extends ErrorCode = ErrorCode> extends Error {
  override name = 'CaffeFoldError';
  /** What is wrong, in sentences, without the location. */
  readonly what: string;
  /** What the user can do about it, in sentences (empty: nothing to add). */
  readonly hint: string;
  constructor(
    /** Stable machine-readable code, e.g. 'prototxt-syntax', 'caffemodel-truncated': a key of the table. */
    readonly code: C,
    params: ErrorParams<C>,
    readonly where?: ErrorWhere,
  ) {
    const { what, hint } = renderError(code, params);
    super(formatMessage(what, where, hint));
    this.what = what;
    this.hint = hint;
  }
}

/** The error of this code, its message filled in from the table. */
export function caffeError<C extends ErrorCode>(
  code: C,
  params: ErrorParams<C>,
  where?: ErrorWhere,
): CaffeFoldError<C> {
  return new CaffeFoldError(code, params, where);
}

/** Refuse a file over 2 GB (one ArrayBuffer in a browser, and Caffe's own protobuf limit), before reading it if the size is known. */
export function checkFileSize(file: string | undefined, bytes: number): void {
  if (bytes > MAX_FILE_BYTES) throw caffeError('file-too-large', { bytes }, { kind: 'file', file });
}

export function formatWhere(where: ErrorWhere | undefined): string {
  if (!where) return '';
  const f = where.file ? `${where.file}` : '';
  switch (where.kind) {
    case 'text':
      return `${f ? f + ':' : 'line '}${where.line}:${where.col}`;
    case 'binary':
      return `${f ? f + ' ' : ''}at byte ${where.offset}`;
    case 'layer':
      return `${f ? f + ', ' : ''}layer "${where.layer}"`;
    case 'file':
      return f;
  }
}

/** `where: what hint`, for one line: the table's texts are sentences, joined by a space. */
function formatMessage(what: string, where: ErrorWhere | undefined, hint: string): string {
  const w = formatWhere(where);
  return `${w ? w + ': ' : ''}${what}${hint ? ` ${hint}` : ''}`;
}

/**
 * An error as plain data: it crosses comlink (worker/errors.ts) and the store keeps it. A CaffeFoldError's fields,
 * or the `internal` entry around a bug's message.
 */
export interface PlainError {
  code: ErrorCode;
  what: string;
  where?: ErrorWhere;
  /** `where` formatted for people (line:col, byte offset, layer name). */
  whereText?: string;
  hint: string;
  message: string;
}

/** The error as plain data. */
export function plainOf(e: CaffeFoldError): PlainError {
  return {
    code: e.code,
    what: e.what,
    where: e.where,
    whereText: formatWhere(e.where) || undefined,
    hint: e.hint,
    message: e.message,
  };
}

export function isCaffeFoldError(e: unknown): e is CaffeFoldError {
  return (
    e instanceof CaffeFoldError ||
    (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'CaffeFoldError')
  );
}
