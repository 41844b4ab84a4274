import { useCallback, useState, type DragEvent } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useAppStore } from '../store/store';
import { ErrorPanel } from './ErrorPanel';
import { Compare } from './Compare';
import { Landing } from './Landing';
import { Workspace } from './Workspace';
import { formatBytes } from '../core/display';

function Header() {
  const { prototxt, caffemodel, ready } = useAppStore(
    useShallow((s) => ({
      prototxt: s.summary?.prototxt,
      caffemodel: s.summary?.caffemodel,
      ready: s.loadStatus === 'ready',
    })),
  );
  const closeModel = useAppStore((s) => s.closeModel);
  return (
    <header className="app-header">
      <div className="brand">
        <span className="brand-mark" aria-hidden="true" />
        <span className="brand-name">caffe-fold</span>
        <span className="brand-sub">fold BatchNorm &amp; Scale into the layer before</span>
      </div>
      {ready && prototxt && (
        <div className="file-chips" aria-label="Loaded files">
          <span className="chip" title={`${prototxt.name}, ${formatBytes(prototxt.size)}`}>
            {prototxt.name}
          </span>
          {caffemodel ? (
            <span className="chip" title={`${caffemodel.name}, ${formatBytes(caffemodel.size)}`}>
              {caffemodel.name} <span className="muted">{formatBytes(caffemodel.size)}</span>
            </span>
          ) : (
            <span className="chip chip-warn" title="Without weights only the prototxt is folded">
              no weights
            </span>
          )}
          <button type="button" className="btn btn-ghost" onClick={closeModel} aria-label="Close the model">
            Close
          </button>
        </div>
      )}
    </header>
  );
}

export function App() {
  const loadStatus = useAppStore((s) => s.loadStatus);
  const openFiles = useAppStore((s) => s.openFiles);
  const compareOpen = useAppStore((s) => s.compareOpen);
  const [dragging, setDragging] = useState(false);

  const onDragOver = useCallback(
    (e: DragEvent) => {
      if (!e.dataTransfer.types.includes('Files')) return;
      e.preventDefault();
      // In the compare view only its two zones take files (they stop the event): elsewhere a drop does nothing.
      e.dataTransfer.dropEffect = compareOpen ? 'none' : 'copy';
      if (!compareOpen) setDragging(true);
    },
    [compareOpen],
  );
  const onDragLeave = useCallback((e: DragEvent) => {
    if (e.currentTarget === e.target || !e.currentTarget.contains(e.relatedTarget as Node | null)) setDragging(false);
  }, []);
  const onDrop = useCallback(
    (e: DragEvent) => {
      e.preventDefault();
      setDragging(false);
      if (compareOpen) return;
      const files = [...e.dataTransfer.files];
      if (files.length) void openFiles(files);
    },
    [openFiles, compareOpen],
  );

  return (
    <div
      className={`app${dragging ? ' is-dragging' : ''}`}
      onDragOver={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      <Header />
      <ErrorPanel />
      <main className="app-main">
        {compareOpen ? <Compare /> : loadStatus === 'ready' ? <Workspace /> : <Landing />}
      </main>
      {dragging && loadStatus === 'ready' && (
        <div className="drop-overlay" aria-hidden="true">
          Drop a .prototxt and/or .caffemodel to open them
        </div>
      )}
    </div>
  );
}
