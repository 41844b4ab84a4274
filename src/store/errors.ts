/**
 * The store's own errors: the table's (core/errors), as plain data in the worker's PlainError shape, so the error
 * panel shows every error the same way.
 */
import { caffeError, isCaffeFoldError, plainOf, type ErrorCode, type ErrorParams } from '../core/errors';
import type { PlainError, Result } from '../worker/types';

/** The error of this code, as plain data; `file` is where it is. */
export const fail = <C extends ErrorCode>(code: C, params: ErrorParams<C>, file?: string): PlainError =>
  plainOf(caffeError(code, params, file === undefined ? undefined : { kind: 'file', file }));

/** The error, said of `file` if it does not say where it is already. */
export const inFile = (e: PlainError, file: string): PlainError =>
  e.where ? e : { ...e, where: { kind: 'file', file }, whereText: file, message: `${file}: ${e.message}` };

export function unwrap<T>(r: Result<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

function isPlainError(e: unknown): e is PlainError {
  return typeof e === 'object' && e !== null && 'code' in e && 'what' in e && 'hint' in e;
}

/** Whatever was thrown, as a PlainError: a typed error as it is, anything else a bug (the table's `internal`). */
export function asPlain(e: unknown): PlainError {
  if (isCaffeFoldError(e)) return plainOf(e);
  if (isPlainError(e)) return e;
  return plainOf(caffeError('internal', { message: e instanceof Error ? e.message : String(e) }));
}
