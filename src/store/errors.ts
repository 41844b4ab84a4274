/** The store's own errors, in the worker's PlainError shape, so the error panel shows every error the same way. */
import type { PlainError, Result } from '../worker/types';

export const fail = (what: string, hint: string, code = 'app', file?: string): PlainError => ({
  code,
  what,
  hint,
  message: `${what} — ${hint}`,
  where: file ? { kind: 'file', file } : undefined,
  whereText: file,
});

export function unwrap<T>(r: Result<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

function isPlainError(e: unknown): e is PlainError {
  return typeof e === 'object' && e !== null && 'code' in e && 'what' in e && 'hint' in e;
}

export function asPlain(e: unknown): PlainError {
  if (isPlainError(e)) return e;
  const m = e instanceof Error ? e.message : String(e);
  return fail(`Something went wrong: ${m}`, 'Reload the page and try again; if it happens again, please report it.', 'internal');
}
