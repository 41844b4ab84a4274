/** Errors cross comlink as plain objects: the worker catches everything and returns one of these. */
import { formatWhere, isCaffeFoldError, renderError } from '../core/errors';
import type { PlainError, Result } from './types';

export function toPlainError(e: unknown): PlainError {
  if (isCaffeFoldError(e)) {
    return { code: e.code, what: e.what, where: e.where, whereText: formatWhere(e.where) || undefined, hint: e.hint, message: e.message };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'internal', ...renderError('internal', { message }), message };
}

export async function attempt<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: toPlainError(e) };
  }
}
