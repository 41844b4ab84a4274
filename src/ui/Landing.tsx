import { useCallback, useRef, type ChangeEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAppStore } from '../store/store';

export function Landing() {
  const { loading, step, pending } = useAppStore(
    useShallow((s) => ({
      loading: s.loadStatus === 'loading',
      step: s.loadStep,
      pending: s.files.caffemodel && !s.files.prototxt ? s.files.caffemodel.name : undefined,
    })),
  );
  return (
    <div className="landing">
      <section className="drop-zone" data-testid="drop-zone" aria-label="Drop zone for model files" aria-busy={loading}>
        {loading ? (
          <div className="loading" role="status">
            <span className="spinner" aria-hidden="true" />
            <span>{step ?? 'Loading'}…</span>
          </div>
        ) : (
          <DropPrompt pending={pending} />
        )}
      </section>
      <LandingFacts />
    </div>
  );
}

/** What the drop zone says while nothing loads: what to drop, the buttons, compare mode, privacy. */
function DropPrompt({ pending }: { pending: string | undefined }) {
  const openCompare = useAppStore((s) => s.openCompare);
  return (
    <>
      <div className="drop-icon" aria-hidden="true">
        <svg viewBox="0 0 48 48" width="48" height="48">
          <rect x="9" y="6" width="22" height="10" rx="3" className="i-conv" />
          <rect x="9" y="20" width="22" height="8" rx="3" className="i-norm" />
          <rect x="17" y="32" width="22" height="10" rx="3" className="i-conv" />
          <path d="M20 16v4M20 28v4" className="i-line" />
        </svg>
      </div>
      <h1>Drop a Caffe model here</h1>
      <p>
        The network description <code>.prototxt</code> and, to fold the weights too, its <code>.caffemodel</code> — one
        or both at once.
      </p>
      {pending && (
        <p className="pending">
          Holding <strong>{pending}</strong>; add its .prototxt.
        </p>
      )}
      <LandingActions />
      <p className="compare-link">
        Already have a folded model?{' '}
        <button type="button" className="btn btn-link" onClick={openCompare}>
          Compare two models
        </button>{' '}
        — check that it gives the original’s outputs.
      </p>
      <p className="privacy">
        <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
          <path d="M4 7V5a4 4 0 1 1 8 0v2h1v8H3V7h1zm2 0h4V5a2 2 0 1 0-4 0v2z" fill="currentColor" />
        </svg>
        Nothing leaves your computer: the files are read and folded in this browser tab.
      </p>
    </>
  );
}

/** Open files (through a hidden file input) or the sample. */
function LandingActions() {
  const openFiles = useAppStore((s) => s.openFiles);
  const loadSample = useAppStore((s) => s.loadSample);
  const input = useRef<HTMLInputElement>(null);
  const onPick = useCallback(
    (e: ChangeEvent<HTMLInputElement>) => {
      const files = [...(e.target.files ?? [])];
      e.target.value = '';
      if (files.length) void openFiles(files);
    },
    [openFiles],
  );
  return (
    <div className="landing-actions">
      <button
        type="button"
        className="btn btn-primary"
        onClick={() => input.current?.click()}
        aria-label="Open model files"
      >
        Open model files…
      </button>
      <button type="button" className="btn" onClick={() => void loadSample()}>
        Try a sample model
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        onChange={onPick}
        accept=".prototxt,.pbtxt,.txt,.caffemodel,.binaryproto,*/*"
        aria-label="Model files"
      />
    </div>
  );
}

function LandingFacts() {
  return (
    <ul className="landing-facts">
      <li>
        <strong>What folds.</strong> Convolution, InnerProduct and Deconvolution followed by BatchNorm and/or Scale;
        BatchNorm+Scale pairs with no such layer become one Scale.
      </li>
      <li>
        <strong>Checked before writing.</strong> Every fold is verified numerically; what cannot be folded safely is
        left as it is, with the reason.
      </li>
      <li>
        <strong>Your file stays yours.</strong> Comments, layer order and unrelated layers are kept.
      </li>
    </ul>
  );
}
