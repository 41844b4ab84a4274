/** Errors cross comlink as plain objects: the worker catches everything and returns one of these. */
import { caffeError, isCaffeFoldError, plainOf } from '../core/errors';
import type { PlainError, Result } from './types';

/** A typed error as it is; anything else is a bug, said as the table's `internal` error around its message. */
export function toPlainError(e: unknown): PlainError {
  if (isCaffeFoldError(e)) return plainOf(e);
  const message = e instanceof Error ? e.message : String(e);
  return { ...plainOf(caffeError('internal', { message })), message };
}

export async function attempt<T>(fn: () => T | Promise<T>): Promise<Result<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (e) {
    return { ok: false, error: toPlainError(e) };
  }
}
