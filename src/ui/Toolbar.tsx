import { useShallow } from 'zustand/react/shallow';
import { formatBytes, plural } from '../core/display';
import { selectFoldCounts, selectResultStale } from '../store/selectors';
import { useAppStore } from '../store/store';
import type { FoldPhase } from '../worker/types';

const PHASES: FoldPhase[] = ['parse', 'analyse', 'fold', 'verify', 'write'];
const PHASE_LABEL: Record<FoldPhase, string> = {
  parse: 'Parse',
  analyse: 'Analyse',
  fold: 'Fold',
  verify: 'Verify',
  write: 'Write',
};

function SummaryBar() {
  const c = useAppStore(useShallow(selectFoldCounts));
  const missing = useAppStore((s) => s.summary?.missing.length ?? 0);
  const hasWeights = useAppStore((s) => !!s.summary?.caffemodel);
  return (
    <div className="summary" data-testid="summary" aria-label="What folds">
      <span className="stat stat-fold" data-testid="count-chains">
        <strong>{c.foldable}</strong> {c.foldable === 1 ? 'chain' : 'chains'} foldable
      </span>
      <span className="stat" data-testid="count-removed">
        <strong>{c.removedLayers}</strong> {c.removedLayers === 1 ? 'layer' : 'layers'} to remove
      </span>
      <span className={`stat${c.refused ? ' stat-refused' : ''}`} data-testid="count-refused">
        <strong>{c.refused}</strong> refused
      </span>
      {c.skipped > 0 && <span className="stat muted">{plural(c.skipped, 'chain')} kept by you</span>}
      {hasWeights && missing > 0 && (
        <span className="stat stat-refused" title="Layers that need weights and have none in the caffemodel">
          {plural(missing, 'layer')} without weights
        </span>
      )}
    </div>
  );
}

function Progress() {
  const job = useAppStore((s) => s.job);
  const cancel = useAppStore((s) => s.cancel);
  if (job.status !== 'running') return null;
  const current = job.phase ? PHASES.indexOf(job.phase) : 0;
  const frac = job.total ? job.done / job.total : 0;
  const overall = Math.min(1, (current + frac) / PHASES.length);
  return (
    <div className="progress" role="group" aria-label="Fold progress">
      <ol className="phases">
        {PHASES.map((p, i) => (
          <li
            key={p}
            className={i < current ? 'done' : i === current ? 'current' : ''}
            aria-current={i === current ? 'step' : undefined}
          >
            {PHASE_LABEL[p]}
          </li>
        ))}
      </ol>
      <progress max={1} value={overall} aria-label={`Folding: ${job.phase ?? 'starting'}`} />
      <button type="button" className="btn btn-danger" onClick={cancel} aria-label="Cancel the fold">
        Cancel
      </button>
    </div>
  );
}

function SideToggle() {
  const { side, hasResult } = useAppStore(useShallow((s) => ({ side: s.side, hasResult: !!s.result })));
  const setSide = useAppStore((s) => s.setSide);
  if (!hasResult) return null;
  return (
    <div className="segmented" role="radiogroup" aria-label="Graph shown">
      <button
        type="button"
        role="radio"
        aria-checked={side === 'before'}
        className={side === 'before' ? 'on' : ''}
        onClick={() => void setSide('before')}
      >
        Before
      </button>
      <button
        type="button"
        role="radio"
        aria-checked={side === 'after'}
        className={side === 'after' ? 'on' : ''}
        onClick={() => void setSide('after')}
      >
        After
      </button>
    </div>
  );
}

function Downloads() {
  const { result, zipping, stale } = useAppStore(
    useShallow((s) => ({ result: s.result, zipping: s.zipping, stale: selectResultStale(s) })),
  );
  const download = useAppStore((s) => s.download);
  if (!result || stale) return null;
  return (
    <div className="downloads" role="group" aria-label="Downloads">
      <button
        type="button"
        className="btn"
        onClick={() => void download('prototxt')}
        aria-label={`Download ${result.prototxt.name}`}
        title={`${result.prototxt.name}, ${formatBytes(result.prototxt.blob.size)}`}
      >
        .prototxt
      </button>
      {result.caffemodel && (
        <button
          type="button"
          className="btn"
          onClick={() => void download('caffemodel')}
          aria-label={`Download ${result.caffemodel.name}`}
          title={`${result.caffemodel.name}, ${formatBytes(result.caffemodel.blob.size)}`}
        >
          .caffemodel
        </button>
      )}
      {result.caffemodel && (
        <button
          type="button"
          className="btn"
          onClick={() => void download('zip')}
          disabled={zipping}
          aria-label="Download both as a .zip"
        >
          {zipping ? 'Zipping…' : 'Both (.zip)'}
        </button>
      )}
    </div>
  );
}

function FoldButton() {
  const { running, hasResult, stale, foldable, done } = useAppStore(
    useShallow((s) => ({
      running: s.job.status === 'running',
      hasResult: !!s.result,
      stale: selectResultStale(s),
      foldable: selectFoldCounts(s).foldable,
      done: s.job.status === 'done',
    })),
  );
  const fold = useAppStore((s) => s.fold);
  const hasWeights = useAppStore((s) => !!s.summary?.caffemodel);
  if (running) return null;
  if (!hasWeights) {
    // Structure only: show what would fold, but folding needs the weights.
    return (
      <button
        type="button"
        className="btn btn-primary"
        disabled
        title="Drop the .caffemodel that goes with this .prototxt to fold it"
      >
        Add the .caffemodel to fold
      </button>
    );
  }
  const again = hasResult && stale;
  if (hasResult && !stale && done) {
    return (
      <span className="fold-done" role="status" data-testid="fold-done">
        ✓ Folded
      </span>
    );
  }
  return (
    <button
      type="button"
      className="btn btn-primary"
      onClick={() => void fold()}
      title={foldable === 0 ? 'Nothing to fold: the files are written as they are, checked' : undefined}
    >
      {again ? 'Fold again' : foldable === 0 ? 'Write as is' : `Fold ${plural(foldable, 'chain')}`}
    </button>
  );
}

function FoldReportLine() {
  const report = useAppStore((s) => (s.result && !selectResultStale(s) ? s.result.summary.report : undefined));
  if (!report) return null;
  const worst = report.chains.reduce((m, c) => Math.max(m, c.proof.maxRelError), 0);
  return (
    <span className="report-line" data-testid="fold-report">
      {report.layers.before} → {report.layers.after} layers
      {report.chains.length > 0 && <span className="muted"> · worst relative error {worst.toExponential(1)}</span>}
      <CheckStatus />
    </span>
  );
}

/** The whole-net check in one word next to the fold's report line (its table is in the folded overview). */
function CheckStatus() {
  const check = useAppStore((s) => s.check);
  const status = check.status === 'done' ? check.result?.status : check.status;
  if (!status || status === 'idle') return null;
  const text: Record<string, [string, string]> = {
    running: ['whole net: checking…', ''],
    equal: ['whole net ✓', 'pass'],
    different: ['whole net ✗ different', 'fail'],
    'not-run': ['whole net: not run', 'muted'],
    failed: ['whole net: not run', 'muted'],
    cancelled: ['whole net: not run', 'muted'],
    waiting: ['whole net: not run yet', 'muted'],
  };
  const [label, cls] = text[status] ?? ['', ''];
  return (
    <span data-testid="check-status">
      <span className="muted"> · </span>
      <span className={`report-check ${cls}`}>{label}</span>
    </span>
  );
}

export function Toolbar() {
  return (
    <div className="toolbar">
      <SummaryBar />
      <div className="toolbar-right">
        <FoldReportLine />
        <Progress />
        <FoldButton />
        <SideToggle />
        <Downloads />
      </div>
    </div>
  );
}
