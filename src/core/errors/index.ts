/**
 * Typed errors of the core. Every error a user can cause by giving us a bad file is one of these:
 * it says what is wrong, where (line:col in text, byte offset in binary, or a layer name) and what to do.
 * The messages are in one table (./table.ts), keyed by code; `caffeError` builds the error of a code.
 * Anything else thrown from core is a bug.
 */
import { MAX_FILE_BYTES } from '../display/files';
import { renderError, type ErrorCode, type ErrorParams } from './table';

export { ERRORS, FILE_FORMATS, quoted, renderError, stop, type ErrorCode, type ErrorEntry, type ErrorParams, type FileFormat, type NoLayers, type UsageCode } from './table';

export type ErrorWhere =
  | { kind: 'text'; file?: string; line: number; col: number; offset: number }
  | { kind: 'binary'; file?: string; offset: number }
  | { kind: 'layer'; file?: string; layer: string }
  | { kind: 'file'; file?: string };

/**
 * Build one with `caffeError(code, params, where)`. The constructor taking the texts themselves stays until every
 * throw site uses the table (then `C` defaults to ErrorCode).
 */
export class CaffeFoldError<C extends string = string> extends Error {
  override name = 'CaffeFoldError';
  constructor(
    /** Stable machine-readable code, e.g. 'prototxt-syntax', 'caffemodel-truncated'. */
    readonly code: C,
    /** What is wrong, in one sentence, without the location. */
    readonly what: string,
    readonly where: ErrorWhere | undefined,
    /** What the user can do about it. */
    readonly hint: string,
  ) {
    super(formatMessage(what, where, hint));
  }
}

/** The error of this code, its message filled in from the table. */
export function caffeError<C extends ErrorCode>(code: C, params: ErrorParams<C>, where?: ErrorWhere): CaffeFoldError<C> {
  const { what, hint } = renderError(code, params);
  return new CaffeFoldError(code, what, where, hint);
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

/**
 * `where: what hint`. The table's texts are sentences, joined by a space; the texts still given to the constructor
 * (no full stop) keep the old ` — ` between what and hint.
 */
function formatMessage(what: string, where: ErrorWhere | undefined, hint: string): string {
  const w = formatWhere(where);
  return `${w ? w + ': ' : ''}${what}${hint ? `${what.endsWith('.') ? ' ' : ' — '}${hint}` : ''}`;
}

export function isCaffeFoldError(e: unknown): e is CaffeFoldError {
  return e instanceof CaffeFoldError || (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'CaffeFoldError');
}
