/** Errors cross comlink as plain objects: the worker catches everything and returns one of these. */
import { formatWhere, isCaffeFoldError } from '../core/errors';
import type { PlainError, Result } from './types';

export function toPlainError(e: unknown): PlainError {
  if (isCaffeFoldError(e)) {
    return { code: e.code, what: e.what, where: e.where, whereText: formatWhere(e.where) || undefined, hint: e.hint, message: e.message };
  }
  const message = e instanceof Error ? e.message : String(e);
  return {
    code: 'internal',
    what: `Something went wrong inside caffe-fold: ${message}`,
    hint: 'This is a bug in caffe-fold, not in your files. Please report it with the files if you can share them.',
    message,
  };
}

export function plainError(code: string, what: string, hint: string, file?: string): PlainError {
  return { code, what, hint, message: `${what} — ${hint}`, where: file ? { kind: 'file', file } : undefined, whereText: file };
}

export async function attempt<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: toPlainError(e) };
  }
}
