/**
 * Typed errors of the core. Every error a user can cause by giving us a bad file is one of these:
 * it says what is wrong, where (line:col in text, byte offset in binary, or a layer name) and what to do.
 * Anything else thrown from core is a bug.
 */
export type ErrorWhere =
  | { kind: 'text'; file?: string; line: number; col: number; offset: number }
  | { kind: 'binary'; file?: string; offset: number }
  | { kind: 'layer'; file?: string; layer: string }
  | { kind: 'file'; file?: string };

export class CaffeFoldError extends Error {
  override name = 'CaffeFoldError';
  constructor(
    /** Stable machine-readable code, e.g. 'prototxt-syntax', 'caffemodel-truncated'. */
    readonly code: string,
    /** What is wrong, in one sentence, without the location. */
    readonly what: string,
    readonly where: ErrorWhere | undefined,
    /** What the user can do about it. */
    readonly hint: string,
  ) {
    super(formatMessage(what, where, hint));
  }
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

function formatMessage(what: string, where: ErrorWhere | undefined, hint: string): string {
  const w = formatWhere(where);
  return `${w ? w + ': ' : ''}${what}${hint ? ` — ${hint}` : ''}`;
}

export function isCaffeFoldError(e: unknown): e is CaffeFoldError {
  return e instanceof CaffeFoldError || (typeof e === 'object' && e !== null && (e as { name?: string }).name === 'CaffeFoldError');
}
