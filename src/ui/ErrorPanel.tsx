import { useShallow } from 'zustand/react/shallow';
import { useAppStore } from '../store/store';

/** Errors and notices, always in the page. */
export function ErrorPanel() {
  const { error, notice, pending } = useAppStore(
    useShallow((s) => ({ error: s.error, notice: s.notice, pending: s.pending })),
  );
  const dismiss = useAppStore((s) => s.dismissError);
  const loadAnyway = useAppStore((s) => s.loadAnyway);
  if (!error && !notice) return null;
  if (!error)
    return (
      <div className="notice" role="status">
        <span>{notice}</span>
        <button type="button" className="btn btn-ghost" onClick={dismiss} aria-label="Dismiss notice">
          ×
        </button>
      </div>
    );
  return (
    <section className="error-panel" role="alert" aria-labelledby="error-title" data-testid="error-panel">
      <div className="error-body">
        <h2 id="error-title">{error.code === 'internal' ? 'Something went wrong' : 'This file cannot be used'}</h2>
        <p className="error-what">{error.what}</p>
        {error.whereText && (
          <p className="error-where">
            <span className="label">Where</span> <code>{error.whereText}</code>
          </p>
        )}
        {error.hint && (
          <p className="error-hint">
            <span className="label">What to do</span> {error.hint}
          </p>
        )}
        {pending && (
          <p className="error-actions">
            <button type="button" className="btn" onClick={() => void loadAnyway()}>
              Load anyway
            </button>{' '}
            <span className="muted">
              the layers without weights stay without them; chains that need them are not folded
            </span>
          </p>
        )}
        <p className="error-code muted">code: {error.code}</p>
      </div>
      <button type="button" className="btn btn-ghost" onClick={dismiss} aria-label="Dismiss error">
        ×
      </button>
    </section>
  );
}
