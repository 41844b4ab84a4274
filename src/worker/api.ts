/**
 * The worker's API: plain typed async functions over core. The worker keeps the loaded model; the main thread
 * keeps only File handles, summaries and the graph. Every function returns a Result: errors cross as plain data.
 */
import { chainDetails as coreChainDetails, detectKind, foldLoaded, loadFiles, outputNames, type FoldResult, type Loaded } from '../core/pipeline';
import type { FoldOptions } from '../core/fold/types';
import { blobFloats } from '../core/fold/blobs';
import { attempt } from './errors';
import { buildGraph } from './graph';
import { layoutGraph } from './layout';
import { layerParams } from './params';
import { blobRole, tensorStats } from './stats';
import type {
  ChainDetails,
  FileIn,
  FoldOutputs,
  FoldSummary,
  GraphLayout,
  GraphSide,
  LayerDetails,
  LoadSummary,
  PhaseCallback,
  Result,
  WeightInfo,
} from './types';

interface State {
  loaded?: Loaded;
  sizes?: { prototxt: number; caffemodel?: number };
  layouts: Partial<Record<GraphSide, GraphLayout>>;
  /** The fold's result; after takeOutputs only its text and report (the chunks went to the main thread). */
  folded?: Pick<FoldResult, 'prototxt' | 'report'> & { caffemodel?: FoldResult['caffemodel'] };
  after?: Loaded;
}

let state: State = { layouts: {} };

const bytesOf = (f: FileIn) => new Uint8Array(f.buffer);

function needLoaded(): Loaded {
  if (!state.loaded) throw new Error('no model is loaded in the worker');
  return state.loaded;
}

function loadedFor(side: GraphSide): Loaded {
  if (side === 'before') return needLoaded();
  if (!state.folded) throw new Error('nothing has been folded yet');
  if (!state.after) {
    const text = new TextEncoder().encode(state.folded.prototxt.text);
    state.after = loadFiles({ name: state.folded.prototxt.name, bytes: text });
  }
  return state.after;
}

function names(l: Loaded): LoadSummary['outputNames'] {
  const o = outputNames(l.prototxtName, l.modelName);
  return { prototxt: o.prototxt, caffemodel: l.model ? o.caffemodel : undefined };
}

export const api = {
  /** Which kind of file the bytes are (the first few KB suffice). */
  async detect(name: string, head: ArrayBuffer): Promise<Result<'prototxt' | 'caffemodel'>> {
    return attempt(() => detectKind(new Uint8Array(head), name));
  },

  /** Load a prototxt and optionally its caffemodel (buffers are transferred in and kept here). */
  async load(prototxt: FileIn, caffemodel?: FileIn, reload = false): Promise<Result<LoadSummary>> {
    return attempt(() => {
      // A reload of the same files (after a transfer consumed the input) keeps the folded result and its graph.
      state = reload ? { layouts: state.layouts, folded: state.folded, after: state.after } : { layouts: {} };
      const loaded = loadFiles({ name: prototxt.name, bytes: bytesOf(prototxt) }, caffemodel ? { name: caffemodel.name, bytes: bytesOf(caffemodel) } : undefined);
      state.loaded = loaded;
      state.sizes = { prototxt: prototxt.buffer.byteLength, caffemodel: caffemodel?.buffer.byteLength };
      return {
        prototxt: { name: prototxt.name, size: prototxt.buffer.byteLength, kind: 'prototxt' as const },
        caffemodel: caffemodel ? { name: caffemodel.name, size: caffemodel.buffer.byteLength, kind: 'caffemodel' as const } : undefined,
        netName: loaded.net.name,
        layerCount: loaded.net.layers.length,
        analysis: loaded.analysis,
        missing: loaded.pairing.missing,
        unused: loaded.pairing.unused,
        outputNames: names(loaded),
      };
    });
  },

  /** The laid-out graph of the loaded model ('before') or of the folded one ('after'). */
  async layout(side: GraphSide): Promise<Result<GraphLayout>> {
    return attempt(async () => {
      const cached = state.layouts[side];
      if (cached) return cached;
      const l = loadedFor(side);
      const model = buildGraph(l.net, side === 'before' ? l.analysis : undefined, l.shapes, side);
      const layout = await layoutGraph(model);
      state.layouts[side] = layout;
      return layout;
    });
  },

  async layerDetails(side: GraphSide, name: string): Promise<Result<LayerDetails>> {
    return attempt(() => {
      const l = loadedFor(side);
      const layer = l.net.byName.get(name);
      if (!layer) throw new Error(`no layer named "${name}"`);
      const w = side === 'before' ? l.weights.get(name) : undefined;
      const weights: WeightInfo[] = (w?.blobs ?? []).map((b, index) => ({
        index,
        role: blobRole(layer.type, index),
        shape: b.shape.length ? b.shape : [b.count],
        stats: tensorStats(blobFloats(b)),
        storage: b.dtype,
      }));
      const blob = (r: { name: string; id: string }) => ({ name: r.name, id: r.id, shape: l.shapes.get(r.id) });
      const analysis = side === 'before' ? l.analysis : undefined;
      return {
        name: layer.name,
        type: layer.type,
        index: layer.index,
        inPlace: layer.inPlace,
        bottoms: layer.bottomRefs.map(blob),
        tops: layer.topRefs.map(blob),
        params: layerParams(layer),
        weights,
        weightsMissing: side === 'before' && l.pairing.missing.includes(name),
        chain: analysis?.chains.find((c) => c.layers.includes(name)),
        refusal: analysis?.refusals.find((r) => r.layer === name),
        warnings: (analysis?.warnings ?? []).filter((x) => x.layer === name),
      };
    });
  },

  async chainDetails(id: string): Promise<Result<ChainDetails>> {
    return attempt(() => {
      const l = needLoaded();
      const chain = l.analysis.chains.find((c) => c.id === id);
      if (!chain) throw new Error(`no chain "${id}"`);
      const d = coreChainDetails(l, id);
      return { chain, stats: d.stats, proof: d.proof, warnings: l.analysis.warnings.filter((w) => w.layer && chain.layers.includes(w.layer)) };
    });
  },

  /** Fold the loaded model; phases are reported through the (comlink-proxied) callback. */
  async fold(opts: FoldOptions, onPhase?: PhaseCallback): Promise<Result<FoldSummary>> {
    return attempt(() => {
      const l = needLoaded();
      state.folded = undefined;
      state.after = undefined;
      delete state.layouts.after;
      const result = foldLoaded(l, opts, onPhase ? (p, d, t) => void onPhase(p, d, t) : undefined);
      state.folded = result;
      const size = result.caffemodel.chunks.reduce((s, c) => s + c.byteLength, 0);
      return {
        report: result.report,
        outputNames: { prototxt: result.prototxt.name, caffemodel: result.caffemodel.name },
        sizes: { prototxt: new TextEncoder().encode(result.prototxt.text).byteLength, caffemodel: size },
      };
    });
  },

  /**
   * The folded files, as Blobs made here in the worker: building a Blob copies the chunks (views of the input and
   * the new weights) into the browser's blob storage off the main thread, and a Blob crosses to the main thread by
   * reference. The worker keeps its loaded model; the result can be taken once.
   */
  async takeOutputs(): Promise<Result<FoldOutputs>> {
    return attempt(() => {
      const f = state.folded;
      if (!f) throw new Error('nothing has been folded yet');
      const out: FoldOutputs = {
        prototxt: f.prototxt,
        caffemodel: f.caffemodel ? { name: f.caffemodel.name, blob: new Blob(f.caffemodel.chunks as BlobPart[], { type: 'application/octet-stream' }) } : undefined,
      };
      // Keep only what the 'after' graph needs; the chunks can go.
      state.folded = { prototxt: f.prototxt, report: f.report };
      return out;
    });
  },

  /** Whether the worker still holds a loaded model (false after it was restarted). */
  async hasModel(): Promise<boolean> {
    return state.loaded !== undefined;
  },
};

export type WorkerApi = typeof api;
