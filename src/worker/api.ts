/**
 * The worker's API: plain typed async functions over core. The worker keeps the loaded model; the main thread
 * keeps only File handles, summaries and the graph. Every function returns a Result: errors cross as plain data.
 */
import {
  chainDetails as coreChainDetails,
  detectKind,
  foldLoaded,
  loadFiles,
  outputNames,
  type FoldResult,
  type Loaded,
} from '../core/pipeline';
import type { FoldOptions, FoldPhase } from '../core/fold/types';
import { blobFloats } from '../core/fold/blobs';
import { attempt } from './errors';
import { PhaseTimer } from './timing';
import { makeOutput } from './output';
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
  LoadChoices,
  LoadSummary,
  PhaseCallback,
  Result,
  WeightInfo,
} from './types';

interface State {
  loaded?: Loaded;
  layouts: Partial<Record<GraphSide, GraphLayout>>;
  /** The fold's result: the folded prototxt text, the report and the folded caffemodel as a Blob. */
  folded?: Pick<FoldResult, 'prototxt' | 'report'> & { caffemodel?: { name: string; blob: Blob } };
  after?: Loaded;
}

let state: State = { layouts: {} };

const readAll = (files: (FileIn | undefined)[]) =>
  Promise.all(files.map((f) => (f ? f.file.arrayBuffer().then((b) => new Uint8Array(b)) : undefined)));

function needLoaded(): Loaded {
  if (!state.loaded) throw new Error('No model is loaded in the worker.');
  return state.loaded;
}

function loadedFor(side: GraphSide): Loaded {
  if (side === 'before') return needLoaded();
  if (!state.folded) throw new Error('Nothing has been folded yet.');
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

  /**
   * Load a prototxt and optionally its caffemodel. The worker reads the Files itself: the bytes never pass through
   * the main thread. A reload of the same files (after a cancel restarted the worker) keeps the folded result.
   * A pair whose layers lack weights is refused unless the user chose to load it anyway.
   */
  async load(
    prototxt: FileIn,
    caffemodel?: FileIn,
    reload = false,
    opts: LoadChoices = {},
  ): Promise<Result<LoadSummary>> {
    return attempt(async () => {
      const timer = new PhaseTimer();
      const [pb, mb] = await readAll([prototxt, caffemodel]);
      timer.end('read');
      // Parsed before the state is touched: files that fail to load leave the model that was loaded.
      const loaded = loadFiles(
        { name: prototxt.name, bytes: pb! },
        caffemodel && mb ? { name: caffemodel.name, bytes: mb } : undefined,
        {
          allowMissingWeights: opts.allowMissingWeights,
          onPhaseEnd: (p) => timer.end(p),
        },
      );
      state = reload ? { layouts: state.layouts, folded: state.folded, after: state.after } : { layouts: {} };
      state.loaded = loaded;
      return {
        prototxt: { name: prototxt.name, size: pb!.byteLength, kind: 'prototxt' as const },
        caffemodel:
          caffemodel && mb ? { name: caffemodel.name, size: mb.byteLength, kind: 'caffemodel' as const } : undefined,
        netName: loaded.net.name,
        layerCount: loaded.net.layers.length,
        analysis: loaded.analysis,
        missing: loaded.pairing.missing,
        unused: loaded.pairing.unused,
        outputNames: names(loaded),
        timings: timer.timings,
      };
    });
  },

  /** The laid-out graph of the loaded model ('before') or of the folded one ('after'). */
  async layout(side: GraphSide): Promise<Result<GraphLayout>> {
    return attempt(() => {
      const cached = state.layouts[side];
      if (cached) return cached;
      const timer = new PhaseTimer();
      const l = loadedFor(side);
      const model = buildGraph(l.net, side === 'before' ? l.analysis : undefined, l.shapes, side);
      const layout = layoutGraph(model);
      timer.end('layout');
      state.layouts[side] = layout;
      return layout;
    });
  },

  async layerDetails(side: GraphSide, name: string): Promise<Result<LayerDetails>> {
    return attempt(() => {
      const l = loadedFor(side);
      const layer = l.net.byName.get(name);
      if (!layer) throw new Error(`There is no layer named "${name}".`);
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
      if (!chain) throw new Error(`There is no chain "${id}".`);
      const d = coreChainDetails(l, id);
      return {
        chain,
        stats: d.stats,
        proof: d.proof,
        warnings: l.analysis.warnings.filter((w) => w.layer && chain.layers.includes(w.layer)),
      };
    });
  },

  /**
   * Fold the loaded model; phases are reported through the (comlink-proxied) callback. The weights are folded in
   * place and the folded caffemodel is written here, off the main thread, to a file in the origin-private file
   * system (or, without one, into a Blob): see output.ts.
   */
  async fold(opts: FoldOptions, onPhase?: PhaseCallback): Promise<Result<FoldSummary>> {
    return attempt(async () => {
      const l = needLoaded();
      // The fold writes over these weights: from here on they are no longer the user's, whether the fold ends or
      // fails half-way (a failed output write used to leave folded weights as "the model", folded again by the next
      // Fold). The next call that needs the model reloads it from the Files (hasModel() says false).
      state.loaded = undefined;
      state.folded = undefined;
      state.after = undefined;
      delete state.layouts.after;
      const timer = new PhaseTimer();
      let current: FoldPhase | undefined;
      // In place: the folded weights are written over the loaded ones (no copy of the model's weights is made);
      // the Blob below takes its own copy, and the loaded model, now folded, is dropped after it.
      let lastReport = 0;
      const result = foldLoaded(l, { ...opts, inPlace: true }, (p, d, t) => {
        const changed = p !== current;
        if (changed) {
          if (current) timer.end(current);
          else timer.restart();
          current = p;
        }
        // Progress reaches the page at most every 50 ms (and at each phase's start and end): each report is a
        // message and a store update on the main thread.
        const now = performance.now();
        if (onPhase && (changed || d === t || now - lastReport >= 50)) {
          lastReport = now;
          void onPhase(p, d, t);
        }
      });
      timer.end('write');
      const size = result.caffemodel.chunks.reduce((s, c) => s + c.byteLength, 0);
      const output = await makeOutput(result.caffemodel.name, result.caffemodel.chunks);
      const blob = output.file; // a File in OPFS, or a Blob
      timer.end('output');
      state.folded = {
        prototxt: result.prototxt,
        report: result.report,
        caffemodel: { name: result.caffemodel.name, blob },
      };
      return {
        report: result.report,
        outputNames: { prototxt: result.prototxt.name, caffemodel: result.caffemodel.name },
        sizes: { prototxt: new TextEncoder().encode(result.prototxt.text).byteLength, caffemodel: size },
        timings: timer.timings,
        outputStorage: output.kind,
      };
    });
  },

  /** The folded files (the caffemodel as the Blob made by fold; a Blob crosses to the main thread by reference). */
  async takeOutputs(): Promise<Result<FoldOutputs>> {
    return attempt(() => {
      const f = state.folded;
      if (!f) throw new Error('Nothing has been folded yet.');
      return {
        prototxt: { name: f.prototxt.name, blob: new Blob([f.prototxt.text], { type: 'text/plain' }) },
        caffemodel: f.caffemodel,
      };
    });
  },

  /** Whether the worker still holds a loaded model (false after it was restarted). */
  async hasModel(): Promise<boolean> {
    return state.loaded !== undefined;
  },
};

export type WorkerApi = typeof api;
