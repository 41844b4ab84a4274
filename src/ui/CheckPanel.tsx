/**
 * The whole-net check in the fold's report: the original and the folded nets run in OpenCV DNN (WebAssembly) on
 * the same seeded input, every net output compared. What was not run says so, and why — never "equal".
 */
import type { ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatNumber, formatShape } from '../core/display';
import type { WholeNetCheck } from '../core/check/types';
import { useAppStore } from '../store/store';

/** core's step names (compareModels' onProgress) as the user reads them. */
const STEP: Record<string, string> = {
  read: 'Reading both nets',
  'load original': 'Loading the original net',
  'run original': 'Running the original net',
  'load folded': 'Loading the folded net',
  'run folded': 'Running the folded net',
  timing: 'Timing both nets',
  done: 'Comparing',
};

const sci = (x: number) =>
  x === 0 ? '0' : Number.isFinite(x) ? x.toExponential(1).replace('e+', 'e') : formatNumber(x);
const ms = (x: number) => (x >= 100 ? `${x.toFixed(0)} ms` : `${x.toPrecision(2)} ms`);

function Verdict({ r }: { r: WholeNetCheck }) {
  if (r.status === 'not-run') {
    return (
      <div className="callout callout-muted" role="status" data-testid="check-verdict">
        <strong>Not run.</strong> {r.reason ?? 'The engine could not run this net.'}
      </div>
    );
  }
  const bad = r.outputs.filter((o) => !o.pass).length;
  if (r.status === 'equal') {
    return (
      <div className="callout callout-ok" role="status" data-testid="check-verdict">
        <strong>✓ Same outputs.</strong>{' '}
        {r.outputs.length === 1 ? 'The output is' : `All ${r.outputs.length} outputs are`} within float32 noise of the
        original’s.
      </div>
    );
  }
  return (
    <div className="callout callout-refused" role="status" data-testid="check-verdict">
      <strong>✗ Different.</strong> {bad} of {r.outputs.length}{' '}
      {r.outputs.length === 1 ? 'output differs' : 'outputs differ'} from the original’s beyond the threshold.
    </div>
  );
}

/**
 * An output that did not move at all when every input value was nudged by one ulp (a saturated softmax, say)
 * shows little of the weights: said, not hidden.
 */
function isFlat(r: WholeNetCheck): boolean {
  return r.status !== 'not-run' && r.outputs.length > 0 && r.outputs.every((o) => o.maxAbsError === 0) && r.noise === 0;
}

function Result({ r, wall }: { r: WholeNetCheck; wall?: number }) {
  return (
    <>
      <Verdict r={r} />
      {isFlat(r) && (
        <p className="muted check-note" data-testid="check-flat">
          The output did not change at all when the input was nudged (noise 0), e.g. a saturated softmax: it shows
          little of the weights.
        </p>
      )}
      {r.notes?.map((n, i) => (
        <p key={i} className="muted check-note">
          {n}
        </p>
      ))}
      {r.outputs.length > 0 && <OutputsTable outputs={r.outputs} />}
      <CheckFacts r={r} wall={wall} />
    </>
  );
}

type OutputCheck = WholeNetCheck['outputs'][number];

/** Each net output, original against folded: the errors, the limit, pass or fail. */
function OutputsTable({ outputs }: { outputs: OutputCheck[] }) {
  return (
    <table
      className="check-table"
      data-testid="check-table"
      aria-label="Each output of the net, original against folded"
    >
      <thead>
        <tr>
          <th scope="col">output</th>
          <th scope="col" title="Largest absolute difference">
            max abs
          </th>
          <th scope="col" title="Largest absolute difference over the original output's largest magnitude">
            max rel
          </th>
          <th scope="col" title="The bound max rel is held to">
            limit
          </th>
          <th scope="col">
            <span className="sr-only">pass</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {outputs.map((o) => (
          <OutputRow key={o.name} o={o} />
        ))}
      </tbody>
    </table>
  );
}

function OutputRow({ o }: { o: OutputCheck }) {
  return (
    <tr className={o.pass ? 'pass' : 'fail'}>
      <th scope="row">
        <span className="mono out-name" title={o.name}>
          {o.name}
        </span>
        <span className="mono muted out-shape">{formatShape(o.shape)}</span>
      </th>
      <td className="mono">{sci(o.maxAbsError)}</td>
      <td className="mono">{sci(o.maxRelError)}</td>
      <td className="mono muted">{sci(o.threshold)}</td>
      <td className="verdict-cell" aria-label={o.pass ? 'pass' : 'fail'}>
        {o.pass ? '✓' : '✗'}
      </td>
    </tr>
  );
}

/** The check's conditions: noise, latency, inputs and seed, engine, wall time. */
function CheckFacts({ r, wall }: { r: WholeNetCheck; wall?: number }) {
  return (
    <dl className="kv check-kv">
      {r.status !== 'not-run' && (
        <KV
          k="noise"
          v={<span title="The float32 noise this net shows on its own; it sets the limits">{sci(r.noise)}</span>}
        />
      )}
      {r.latency && <KV k="latency" v={<Latency latency={r.latency} />} />}
      {r.inputs.map((i, n) => (
        <KV key={i.name} k={n === 0 ? 'input' : ''} v={`${i.name} ${formatShape(i.shape)}, seed ${r.seed}`} />
      ))}
      <KV k="engine" v={<span className="engine-name">{r.engine}</span>} />
      {wall !== undefined && <KV k="took" v={`${(wall / 1000).toFixed(1)} s`} />}
    </dl>
  );
}

function Latency({ latency }: { latency: NonNullable<WholeNetCheck['latency']> }) {
  return (
    <span data-testid="check-latency">
      {ms(latency.originalMs)} → {ms(latency.foldedMs)}{' '}
      <strong className={latency.ratio <= 1 ? 'ok' : undefined}>{latency.ratio.toFixed(2)}×</strong>
      <span className="muted"> (median of {latency.runs})</span>
    </span>
  );
}

function KV({ k, v }: { k: string; v: ReactNode }) {
  return (
    <>
      <dt>{k}</dt>
      <dd>{v}</dd>
    </>
  );
}

/**
 * The check's panel. After a fold it checks the fold (runCheck); the compare view passes its own run (the two
 * pairs the user gave) and the label of its "run again" button.
 */
export function CheckPanel({
  onRun,
  runLabel = 'Check the whole net',
  className,
}: { onRun?: () => void; runLabel?: string; className?: string } = {}) {
  const check = useAppStore((s) => s.check);
  const { runCheck, cancelCheck } = useAppStore(
    useShallow((s) => ({ runCheck: s.runCheck, cancelCheck: s.cancelCheck })),
  );
  if (check.status === 'idle') return null;
  const run = onRun ?? (() => void runCheck());
  const again = (label: string) => (
    <button type="button" className="btn" onClick={run}>
      {label}
    </button>
  );
  return (
    <section
      className={`check${className ? ` ${className}` : ''}`}
      aria-labelledby="check-title"
      data-testid="whole-net-check"
      data-status={check.result?.status ?? check.status}
    >
      <h3 id="check-title">Whole-net check · OpenCV DNN</h3>
      {check.status === 'running' && (
        <div className="check-progress" role="status" aria-live="polite">
          <span className="spinner small" aria-hidden="true" />
          <span className="check-step" data-testid="check-step">
            {STEP[check.step ?? ''] ?? check.step ?? 'Starting'}
            {check.total > 1 && <span className="muted"> {Math.round((100 * check.done) / check.total)}%</span>}
          </span>
          <button
            type="button"
            className="btn btn-danger btn-small"
            onClick={cancelCheck}
            aria-label="Cancel the check"
          >
            Cancel
          </button>
          <progress
            className="check-bar"
            max={1}
            value={check.total ? check.done / check.total : 0}
            aria-label="Whole-net check progress"
          />
        </div>
      )}
      {check.status === 'waiting' && (
        <>
          <div className="callout callout-muted" data-testid="check-verdict">
            {check.note}
          </div>
          {!check.tooBig && again(runLabel)}
        </>
      )}
      {check.status === 'cancelled' && (
        <>
          <div className="callout callout-muted" data-testid="check-verdict">
            <strong>Not run.</strong> The check was cancelled.
          </div>
          {again(runLabel)}
        </>
      )}
      {check.status === 'failed' && check.error && (
        <>
          <div className="callout callout-muted" role="alert" data-testid="check-verdict">
            <strong>Not run.</strong> {check.error.what}
            {check.error.hint && <p className="muted">{check.error.hint}</p>}
          </div>
          {again('Try again')}
        </>
      )}
      {check.status === 'done' && check.result && <Result r={check.result} wall={check.ms} />}
    </section>
  );
}
