import { memo, type ReactNode } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { formatNumber, formatShape, layerCategory, plural } from '../core/display';
import { useAppStore } from '../store/store';
import { useProgressive } from './useProgressive';
import { CheckPanel } from './CheckPanel';
import type { Chain, ChainDetails, LayerDetails, Refusal } from '../worker/types';

const NONE: never[] = [];

function ChainSwitch({ id, label }: { id: string; label: string }) {
  const kept = useAppStore((s) => !!s.skip[id]);
  const toggle = useAppStore((s) => s.toggleSkip);
  const running = useAppStore((s) => s.job.status === 'running');
  return (
    <label className="switch" title={kept ? 'This chain is left as it is' : 'This chain is folded'}>
      <input
        type="checkbox"
        role="switch"
        checked={!kept}
        disabled={running}
        onChange={() => toggle(id)}
        aria-label={`Fold ${label} at ${id}`}
      />
      <span className="switch-track" aria-hidden="true" />
      <span className="switch-text">{kept ? 'Keep' : 'Fold'}</span>
    </label>
  );
}

const ChainRow = memo(function ChainRow({ chain }: { chain: Chain }) {
  const select = useAppStore((s) => s.select);
  const focusNode = useAppStore((s) => s.focusNode);
  const nodeId = useAppStore((s) => s.layouts.before?.layerNode[chain.layers[0]]);
  return (
    <li className="chain-item">
      <button
        type="button"
        className="link"
        onClick={() => {
          select({ kind: 'chain', id: chain.id });
          if (nodeId) focusNode(nodeId);
        }}
        aria-label={`Show chain ${chain.label} at ${chain.id}`}
      >
        <span className="chain-badge static">{chain.label}</span>
        <span className="chain-name">{chain.id}</span>
      </button>
      <ChainSwitch id={chain.id} label={chain.label} />
    </li>
  );
});

function RefusalRow({ r }: { r: Refusal }) {
  const select = useAppStore((s) => s.select);
  const focusNode = useAppStore((s) => s.focusNode);
  const nodeId = useAppStore((s) => s.layouts.before?.layerNode[r.layer]);
  return (
    <li className="refusal-item">
      <button
        type="button"
        className="link"
        onClick={() => {
          select({ kind: 'layer', name: r.layer });
          if (nodeId) focusNode(nodeId);
        }}
        aria-label={`Show refused layer ${r.layer}`}
      >
        <span className="refused-mark" aria-hidden="true">
          !
        </span>
        <span className="chain-name">{r.layer}</span>
      </button>
      <p className="reason">{r.reason}</p>
    </li>
  );
}

function FoldedOverview() {
  const report = useAppStore((s) => s.result?.summary.report);
  const shown = useProgressive(report?.chains.length ?? 0);
  if (!report) return null;
  return (
    <div className="panel-section">
      <p className="muted">Showing the folded network. Switch back to “Before” to change what folds.</p>
      <h2>Folded</h2>
      <dl className="kv">
        <KV k="layers" v={`${report.layers.before} → ${report.layers.after}`} />
        <KV k="chains folded" v={report.chains.length} />
        <KV k="layers removed" v={report.removedLayers.length} />
        <KV k="left as they are" v={report.refusals.length} />
      </dl>
      <p className="structure-proof" data-testid="structure-proof">
        <span className="pass">Wiring proven ✓</span> — read back from the folded file, every kept layer reads the
        values it read before ({report.structure.layers} layers, {report.structure.reads} reads and writes by blob
        version), and the{' '}
        {report.structure.outputs.length === 1 ? 'output is' : `${report.structure.outputs.length} outputs are`} the
        same.
      </p>
      <CheckPanel />
      {report.chains.length > 0 && (
        <>
          <h3>Proof per chain (max relative error)</h3>
          <ul className="chain-list" aria-label="Folded chains">
            {report.chains.slice(0, shown).map((c) => (
              <li key={c.id} className="chain-item">
                <span className="link">
                  <span className="chain-badge static">{c.label}</span>
                  <span className="chain-name">{c.id}</span>
                </span>
                <span className="mono muted">{formatNumber(c.proof.maxRelError, 2)}</span>
              </li>
            ))}
          </ul>
        </>
      )}
      {report.refusals.length > 0 && (
        <>
          <h3>Left as they are</h3>
          <ul className="refusal-list">
            {report.refusals.map((r) => (
              <li key={r.layer} className="refusal-item">
                <span className="chain-name">{r.layer}</span>
                <p className="reason">{r.reason}</p>
              </li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}

function Overview() {
  const { chains, refusals, warnings } = useAppStore(
    useShallow((s) => ({
      chains: s.summary?.analysis.chains ?? NONE,
      refusals: s.summary?.analysis.refusals ?? NONE,
      warnings: s.summary?.analysis.warnings ?? NONE,
    })),
  );
  const shownChains = useProgressive(chains.length);
  const shownRefusals = useProgressive(refusals.length);
  return (
    <div className="panel-section">
      <h2>Foldable chains</h2>
      {chains.length === 0 ? (
        <p className="muted">No Convolution/InnerProduct/Deconvolution followed by BatchNorm or Scale was found.</p>
      ) : (
        <ul className="chain-list" aria-label="Foldable chains">
          {chains.slice(0, shownChains).map((c) => (
            <ChainRow key={c.id} chain={c} />
          ))}
        </ul>
      )}
      {refusals.length > 0 && (
        <>
          <h2>Left as they are</h2>
          <ul className="refusal-list">
            {refusals.slice(0, shownRefusals).map((r) => (
              <RefusalRow key={r.layer} r={r} />
            ))}
          </ul>
        </>
      )}
      {warnings.length > 0 && (
        <>
          <h2>Warnings</h2>
          <ul className="warning-list">
            {warnings.map((w, i) => (
              <li key={i}>
                {w.layer && <strong>{w.layer}: </strong>}
                {w.message}
              </li>
            ))}
          </ul>
        </>
      )}
      <p className="muted tip">Click a layer, a row or a chain badge for its details.</p>
    </div>
  );
}

function KV({ k, v, cls }: { k: string; v: ReactNode; cls?: string }) {
  return (
    <>
      <dt>{k}</dt>
      <dd className={cls}>{v}</dd>
    </>
  );
}

function LayerView({ d }: { d: LayerDetails }) {
  return (
    <div className="panel-section">
      <p className={`kind-tag cat-${layerCategory(d.type)}`}>{d.type}</p>
      <h2 className="detail-title">{d.name}</h2>
      {d.refusal && (
        <div className="callout callout-refused" role="note">
          <strong>Not folded.</strong> {d.refusal.reason}
        </div>
      )}
      {d.chain && <LayerChainCallout chain={d.chain} layer={d.name} />}
      {d.warnings.map((w, i) => (
        <div key={i} className="callout callout-warn">
          {w.message}
        </div>
      ))}
      <LayerBlobs d={d} />
      {d.params.map((g) => (
        <ParamGroup key={g.name} g={g} />
      ))}
      <LayerWeights weights={d.weights} missing={d.weightsMissing} />
    </div>
  );
}

/** The chain a layer belongs to: its badge, its switch, and what the fold does to this layer. */
function LayerChainCallout({ chain, layer }: { chain: NonNullable<LayerDetails['chain']>; layer: string }) {
  const select = useAppStore((s) => s.select);
  return (
    <div className="callout callout-chain">
      <div className="callout-row">
        <button
          type="button"
          className="link"
          onClick={() => select({ kind: 'chain', id: chain.id })}
          aria-label={`Show chain ${chain.label}`}
        >
          <span className="chain-badge static">{chain.label}</span>
        </button>
        <ChainSwitch id={chain.id} label={chain.label} />
      </div>
      <p className="muted">
        {chain.removed.includes(layer)
          ? 'This layer is folded away.'
          : `This layer absorbs ${chain.removed.join(', ')}.`}
      </p>
    </div>
  );
}

function LayerBlobs({ d }: { d: LayerDetails }) {
  return (
    <>
      <h3>Blobs</h3>
      <dl className="kv">
        {d.bottoms.map((b, i) => (
          <KV key={`b${i}`} k={i === 0 ? 'bottom' : ''} v={<BlobLine name={b.name} shape={b.shape} />} />
        ))}
        {d.tops.map((t, i) => (
          <KV key={`t${i}`} k={i === 0 ? 'top' : ''} v={<BlobLine name={t.name} shape={t.shape} />} />
        ))}
        {d.inPlace && <KV k="" v={<span className="muted">in place</span>} />}
      </dl>
    </>
  );
}

/** One group of a layer's fields, the defaults (not in the file) marked as such. */
function ParamGroup({ g }: { g: LayerDetails['params'][number] }) {
  return (
    <div>
      <h3>{g.name === 'layer' ? 'Layer fields' : g.name}</h3>
      <dl className="kv">
        {g.entries.map((e) => (
          <KV
            key={e.key}
            k={e.key}
            v={
              e.isDefault ? (
                <span title="Not in the file: the default">
                  {e.value} <span className="default-tag">default</span>
                </span>
              ) : (
                e.value
              )
            }
            cls={e.isDefault ? 'is-default' : undefined}
          />
        ))}
      </dl>
    </div>
  );
}

function LayerWeights({
  weights,
  missing,
}: {
  weights: LayerDetails['weights'];
  missing: LayerDetails['weightsMissing'];
}) {
  return (
    <>
      {(weights.length > 0 || missing) && <h3>Weights</h3>}
      {missing && (
        <div className="callout callout-refused">This layer needs weights and the caffemodel has none for it.</div>
      )}
      {weights.map((w) => (
        <WeightBlob key={w.index} w={w} />
      ))}
    </>
  );
}

/** One weight blob: its role, shape and storage, and its statistics when read. */
function WeightBlob({ w }: { w: LayerDetails['weights'][number] }) {
  return (
    <div className="weight">
      <div className="weight-head">
        <span>{w.role}</span>
        <span className="mono muted">
          {formatShape(w.shape)} {w.storage && `· ${w.storage}`}
        </span>
      </div>
      {w.stats && (
        <dl className="stats">
          <KV k="min" v={formatNumber(w.stats.min)} />
          <KV k="max" v={formatNumber(w.stats.max)} />
          <KV k="mean" v={formatNumber(w.stats.mean)} />
          <KV k="std" v={formatNumber(w.stats.std)} />
          {w.stats.nonFinite > 0 && <KV k="non-finite" v={w.stats.nonFinite} cls="bad" />}
        </dl>
      )}
    </div>
  );
}

function BlobLine({ name, shape }: { name: string; shape?: number[] }) {
  return (
    <span>
      <span className="mono">{name}</span>{' '}
      <span className="muted mono">{shape ? formatShape(shape) : 'shape unknown'}</span>
    </span>
  );
}

function ChainView({ d }: { d: ChainDetails }) {
  const select = useAppStore((s) => s.select);
  const c = d.chain;
  return (
    <div className="panel-section">
      <p className="kind-tag chain">Chain</p>
      <h2 className="detail-title">
        <span className="chain-badge static">{c.label}</span>
      </h2>
      <div className="callout-row">
        <span className="muted">Fold this chain</span>
        <ChainSwitch id={c.id} label={c.label} />
      </div>
      <h3>Layers</h3>
      <ol className="chain-layers">
        {c.layers.map((l) => (
          <li key={l}>
            <button
              type="button"
              className="link mono"
              onClick={() => select({ kind: 'layer', name: l })}
              aria-label={`Show layer ${l}`}
            >
              {l}
            </button>
            {c.removed.includes(l) ? (
              <span className="muted"> — removed</span>
            ) : l === c.target ? (
              <span className="muted"> — absorbs the chain</span>
            ) : null}
          </li>
        ))}
      </ol>
      <dl className="kv">
        <KV k="output blob" v={<span className="mono">{c.outputTop}</span>} />
        {d.stats && (
          <>
            <KV k="channels" v={d.stats.channels} />
            <KV k="alpha range" v={`${formatNumber(d.stats.alphaMin)} … ${formatNumber(d.stats.alphaMax)}`} />
            {d.stats.eps !== undefined && <KV k="eps" v={formatNumber(d.stats.eps)} />}
            {d.stats.zeroFactor && <KV k="factor" v="0 (Caffe reads mean = var = 0)" cls="warn" />}
          </>
        )}
        {d.proof && (
          <>
            <KV k="max abs error" v={formatNumber(d.proof.maxAbsError, 3)} />
            <KV k="max rel error" v={formatNumber(d.proof.maxRelError, 3)} />
          </>
        )}
      </dl>
      {d.stats && d.stats.tinyVariance > 0 && (
        <div className="callout callout-warn">
          {plural(d.stats.tinyVariance, 'channel')} with variance below 1e-6: the fold magnifies their weights.
        </div>
      )}
      {!d.stats && !d.proof && <p className="muted">Load the caffemodel to see the scale range and the proof.</p>}
      {d.warnings.map((w, i) => (
        <div key={i} className="callout callout-warn">
          {w.layer && <strong>{w.layer}: </strong>}
          {w.message}
        </div>
      ))}
    </div>
  );
}

export function SidePanel() {
  const { selection, details, side } = useAppStore(
    useShallow((s) => ({ selection: s.selection, details: s.details, side: s.side })),
  );
  const select = useAppStore((s) => s.select);
  return (
    <aside className="side-panel" aria-label="Details">
      {selection && (
        <div className="panel-top">
          <button
            type="button"
            className="btn btn-ghost"
            onClick={() => select(undefined)}
            aria-label="Back to the overview"
          >
            ← Overview
          </button>
        </div>
      )}
      {!selection && (side === 'after' ? <FoldedOverview /> : <Overview />)}
      {selection && details?.error && (
        <div className="panel-section">
          <div className="callout callout-refused">{details.error.what}</div>
        </div>
      )}
      {selection && details && !details.value && !details.error && <div className="panel-section muted">Loading…</div>}
      {selection &&
        details?.value &&
        (selection.kind === 'chain' ? (
          <ChainView d={details.value as ChainDetails} />
        ) : (
          <LayerView d={details.value as LayerDetails} />
        ))}
    </aside>
  );
}
