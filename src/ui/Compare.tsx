/**
 * Compare mode: two pairs of files — an original and a folded one, folded by any tool — run through the same
 * whole-net check (and table) as a fold made here. The page's counterpart of `npm run fold -- compare`.
 */
import { useCallback, useRef, useState, type ChangeEvent, type DragEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatBytes } from '../core/display';
import { compareReady, type CompareSide } from '../store/compare';
import { useAppStore } from '../store/store';
import { CheckPanel } from './CheckPanel';

const ZONES: { side: CompareSide; title: string; sub: string }[] = [
  { side: 'original', title: 'Original', sub: 'The model before folding.' },
  { side: 'folded', title: 'Folded (or any other)', sub: 'Folded here or by any other tool.' },
];

function FileLine({ kind, file }: { kind: string; file?: File }) {
  return (
    <li className={file ? 'has-file' : 'no-file'}>
      <span className="compare-kind">{kind}</span>
      {file ? (
        <span className="mono compare-file" title={`${file.name}, ${formatBytes(file.size)}`}>
          {file.name} <span className="muted">{formatBytes(file.size)}</span>
        </span>
      ) : (
        <span className="muted">not given yet</span>
      )}
    </li>
  );
}

/** Files dragged over a zone: whether they are over it, and the handlers that take them in when dropped. */
function useZoneDrop(side: CompareSide, running: boolean) {
  const add = useAppStore((s) => s.addCompareFiles);
  const [over, setOver] = useState(false);
  const onDragOver = useCallback((e: DragEvent) => {
    if (!e.dataTransfer.types.includes('Files')) return;
    e.preventDefault();
    e.stopPropagation();
    e.dataTransfer.dropEffect = 'copy';
    setOver(true);
  }, []);
  const onDragLeave = useCallback((e: DragEvent) => {
    if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOver(false);
  }, []);
  const onDrop = useCallback(
    (e: DragEvent) => {
      e.preventDefault();
      e.stopPropagation();
      setOver(false);
      const files = [...e.dataTransfer.files];
      if (files.length && !running) void add(side, files);
    },
    [add, side, running],
  );
  return { over, onDragOver, onDragLeave, onDrop };
}

function Zone({ side, title, sub }: { side: CompareSide; title: string; sub: string }) {
  const zone = useAppStore((s) => s.compare[side]);
  const running = useAppStore((s) => s.check.status === 'running');
  const { over, onDragOver, onDragLeave, onDrop } = useZoneDrop(side, running);
  return (
    <section
      className={`compare-zone${over ? ' is-over' : ''}${zone.error ? ' has-error' : ''}`}
      data-testid={`compare-zone-${side}`}
      aria-label={`${title}: .prototxt + .caffemodel`}
      aria-busy={zone.reading}
      onDragOver={onDragOver}
      onDragEnter={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      <h2>
        {title}: <span className="muted">.prototxt + .caffemodel</span>
      </h2>
      <p className="muted compare-sub">{sub}</p>
      <ul className="compare-files">
        <FileLine kind=".prototxt" file={zone.prototxt} />
        <FileLine kind=".caffemodel" file={zone.caffemodel} />
      </ul>
      {zone.reading && (
        <p className="muted" role="status">
          <span className="spinner small" aria-hidden="true" /> Reading…
        </p>
      )}
      {zone.error && (
        <div className="callout callout-refused" role="alert" data-testid={`compare-error-${side}`}>
          {zone.error}
        </div>
      )}
      <ZoneActions side={side} title={title} running={running} hasFiles={!!(zone.prototxt || zone.caffemodel)} />
    </section>
  );
}

/** A zone's buttons: choose its files (through a hidden file input), clear them. */
function ZoneActions({
  side,
  title,
  running,
  hasFiles,
}: {
  side: CompareSide;
  title: string;
  running: boolean;
  hasFiles: boolean;
}) {
  const { add, clear } = useAppStore(useShallow((s) => ({ add: s.addCompareFiles, clear: s.clearCompareZone })));
  const input = useRef<HTMLInputElement>(null);
  const onPick = useCallback(
    (e: ChangeEvent<HTMLInputElement>) => {
      const files = [...(e.target.files ?? [])];
      e.target.value = '';
      if (files.length) void add(side, files);
    },
    [add, side],
  );
  return (
    <div className="compare-zone-actions">
      <button
        type="button"
        className="btn"
        onClick={() => input.current?.click()}
        disabled={running}
        aria-label={`Choose the ${title.toLowerCase()} files`}
      >
        Choose files…
      </button>
      {hasFiles && (
        <button
          type="button"
          className="btn btn-ghost"
          onClick={() => clear(side)}
          disabled={running}
          aria-label={`Clear the ${title.toLowerCase()} files`}
        >
          Clear
        </button>
      )}
      <input
        ref={input}
        type="file"
        multiple
        hidden
        onChange={onPick}
        accept=".prototxt,.pbtxt,.txt,.caffemodel,*/*"
        aria-label={`${title} files`}
      />
    </div>
  );
}

/** What is still missing before "Compare" can run, as one sentence. */
function missing(c: ReturnType<typeof useAppStore.getState>['compare']): string | undefined {
  const need: string[] = [];
  for (const { side, title } of ZONES) {
    const z = c[side];
    const lack = [!z.prototxt && '.prototxt', !z.caffemodel && '.caffemodel'].filter(Boolean);
    if (lack.length) need.push(`the ${title.replace(/ \(.*\)/, '').toLowerCase()} ${lack.join(' and ')}`);
  }
  return need.length ? `Still needed: ${need.join('; ')}.` : undefined;
}

export function Compare() {
  const compare = useAppStore((s) => s.compare);
  const running = useAppStore((s) => s.check.status === 'running');
  const started = useAppStore((s) => s.check.status !== 'idle');
  const { runCompare, closeCompare } = useAppStore(
    useShallow((s) => ({ runCompare: s.runCompare, closeCompare: s.closeCompare })),
  );
  const ready = compareReady(compare);
  const why = missing(compare);
  return (
    <div className="compare-scroll">
      <div className="compare" data-testid="compare-view">
        <div className="compare-head">
          <button type="button" className="btn btn-ghost" onClick={closeCompare} aria-label="Back to the start page">
            ← Back
          </button>
          <h1>Compare two models</h1>
        </div>
        <p className="muted compare-intro">
          Both nets run in OpenCV DNN (WebAssembly) in this tab, on the same input; every output is compared, as after a
          fold. Drop each pair on its side, or choose the files; nothing leaves your computer.
        </p>
        <div className="compare-zones">
          {ZONES.map((z) => (
            <Zone key={z.side} {...z} />
          ))}
        </div>
        <div className="compare-run">
          <button
            type="button"
            className="btn btn-primary"
            disabled={!ready || running}
            onClick={() => void runCompare()}
          >
            Compare
          </button>
          {why && <span className="muted">{why}</span>}
        </div>
        {started && <CheckPanel onRun={() => void runCompare()} runLabel="Compare" className="compare-result" />}
      </div>
    </div>
  );
}
