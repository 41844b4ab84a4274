/**
 * The fold worker's session: the one place that knows the worker keeps a model and can lose it. It starts the worker
 * at the first call and again after a cancel, and gives the worker the model on screen again, from the user's Files,
 * whenever the worker no longer holds it: after a fold (which folds the weights in place), a cancel or a close (which
 * end the worker). The calls that use the worker's model run one after another, so a load never interleaves with a
 * fold, with details, or with another load. The store calls it with plain async functions and knows nothing of
 * workers or their generations.
 */
import * as Comlink from 'comlink';
import type { WorkerApi } from '../worker/api';
import type {
  ChainDetails,
  FoldOutputs,
  FoldPhase,
  FoldSummary,
  GraphLayout,
  GraphSide,
  LayerDetails,
  LoadSummary,
  Result,
} from '../worker/types';
import { Cancelled, WorkerBridge, type WorkerLike } from './bridge';

export interface ModelFiles {
  prototxt: File;
  caffemodel?: File;
}

export type FileKind = 'prototxt' | 'caffemodel';

/** One load of files: once a newer load has begun or the session was closed, its calls reject with Cancelled. */
export interface Load {
  detect(file: File): Promise<Result<FileKind>>;
  /** Load the files in the worker and lay out their graph; on success they are the session's model. */
  open(
    files: ModelFiles,
    allowMissingWeights: boolean,
    onStep: (step: string) => void,
  ): Promise<Result<{ summary: LoadSummary; layout: GraphLayout }>>;
}

/** The first bytes of a file could not be read (moved, deleted, unreadable); the message is the browser's. */
export class Unreadable extends Error {}

interface Model {
  files: ModelFiles;
  allowMissingWeights: boolean;
}

/** The kind of a file shows in its first bytes: only these cross to the worker to tell it. */
const HEAD_BYTES = 64 * 1024;

export class ModelSession {
  private readonly bridge: WorkerBridge<WorkerApi>;
  /** The calls that use the worker's model, chained one after another. */
  private queue: Promise<unknown> = Promise.resolve();
  /** Bumped by cancel() and close(): the calls made before then reject with Cancelled. */
  private epoch = 0;
  /** Bumped by each load and by close(), so a load knows whether it is still the newest. */
  private loads = 0;
  /** The model on screen: what the worker must hold when it is asked about the model. */
  private model?: Model;
  /** What the worker was last given, and which worker that was (a restarted worker holds nothing). */
  private held?: { model: Model; generation: number };

  constructor(start: () => WorkerLike) {
    this.bridge = new WorkerBridge<WorkerApi>(start);
  }

  /** Which kind of file this is, from its first bytes. It needs no model, so it does not wait behind a fold. */
  async detect(file: File): Promise<Result<FileKind>> {
    let head: ArrayBuffer;
    try {
      head = await file.slice(0, HEAD_BYTES).arrayBuffer();
    } catch (e) {
      throw new Unreadable(e instanceof Error ? e.message : String(e));
    }
    return this.bridge.call((w) => w.detect(file.name, Comlink.transfer(head, [head])));
  }

  /** Start loading other files: the load begun before, if any, is superseded. */
  beginLoad(): Load {
    const seq = ++this.loads;
    const newest = () => {
      if (seq !== this.loads) throw new Cancelled();
    };
    return {
      detect: (file) => this.detect(file).finally(newest),
      open: (files, allowMissingWeights, onStep) =>
        this.open(seq, { files, allowMissingWeights }, onStep).finally(newest),
    };
  }

  layerDetails(side: GraphSide, name: string): Promise<Result<LayerDetails>> {
    return this.enqueue(async () => {
      // The folded graph's layers need only the folded text the worker keeps; the loaded model's need the model.
      if (side === 'before') {
        const given = await this.ensureModel();
        if (!given.ok) return given;
      }
      return this.bridge.call((w) => w.layerDetails(side, name));
    });
  }

  chainDetails(id: string): Promise<Result<ChainDetails>> {
    return this.enqueue(async () => {
      const given = await this.ensureModel();
      if (!given.ok) return given;
      return this.bridge.call((w) => w.chainDetails(id));
    });
  }

  /** Fold the model on screen and take the folded files; the worker's copy of the model is spent by it. */
  fold(
    skip: string[],
    onPhase: (phase: FoldPhase, done: number, total: number) => void,
  ): Promise<Result<{ summary: FoldSummary; outputs: FoldOutputs }>> {
    const epoch = this.epoch;
    // Progress already on its way from a worker that was then cancelled is not shown.
    const progress = Comlink.proxy((phase: FoldPhase, done: number, total: number) => {
      if (epoch === this.epoch) onPhase(phase, done, total);
    });
    return this.enqueue(async () => {
      const given = await this.ensureModel();
      if (!given.ok) return given;
      const folded = await this.bridge.call((w) => w.fold({ skip }, progress));
      if (!folded.ok) return folded;
      const outputs = await this.bridge.call((w) => w.takeOutputs());
      if (!outputs.ok) return outputs;
      return { ok: true, value: { summary: folded.value, outputs: outputs.value } };
    });
  }

  /** The laid-out graph of the last fold (the worker keeps its folded text until another model is loaded). */
  layoutFolded(): Promise<Result<GraphLayout>> {
    return this.enqueue(() => this.bridge.call((w) => w.layout('after')));
  }

  /** Stop the worker and everything asked of it; the model stays, and is given to the next worker when needed. */
  cancel(): void {
    this.epoch++;
    this.bridge.terminate();
  }

  /** Forget the model and stop the worker; a load in progress is superseded. */
  close(): void {
    this.loads++;
    this.model = undefined;
    this.cancel();
  }

  private open(
    seq: number,
    model: Model,
    onStep: (step: string) => void,
  ): Promise<Result<{ summary: LoadSummary; layout: GraphLayout }>> {
    return this.enqueue(async () => {
      // A load superseded while it waited is not run: the worker keeps what it has.
      if (seq !== this.loads) throw new Cancelled();
      const step = (s: string) => seq === this.loads && onStep(s);
      const { prototxt: p, caffemodel: m } = model.files;
      step(`Reading and parsing ${p.name}${m ? ` and ${m.name}` : ''}`);
      const summary = await this.give(model, false);
      if (!summary.ok) return summary;
      step('Laying out the graph');
      const layout = await this.bridge.call((w) => w.layout('before'));
      if (!layout.ok) return layout;
      if (seq === this.loads) this.model = model;
      return { ok: true, value: { summary: summary.value, layout: layout.value } };
    });
  }

  /**
   * Give the worker the model on screen if it does not hold it: a fold spent it, a cancel restarted the worker, or
   * the worker was last given files that did not become the model on screen.
   */
  private async ensureModel(): Promise<Result<unknown>> {
    const model = this.model;
    if (!model) throw new Error('no model is loaded');
    const held = this.held;
    const same = held?.model === model;
    if (same && held.generation === this.bridge.generation && (await this.bridge.call((w) => w.hasModel())))
      return { ok: true, value: undefined };
    // The same model again keeps the worker's fold result (its folded graph); another one starts clean.
    return this.give(model, same);
  }

  /** Load the files in the worker; it reads them itself, so no model bytes pass through the main thread. */
  private async give(model: Model, reload: boolean): Promise<Result<LoadSummary>> {
    const { prototxt: p, caffemodel: m } = model.files;
    const opts = { allowMissingWeights: model.allowMissingWeights };
    const r = await this.bridge.call((w) =>
      w.load({ name: p.name, file: p }, m ? { name: m.name, file: m } : undefined, reload, opts),
    );
    // Files that fail to load leave the worker with what it held.
    if (r.ok) this.held = { model, generation: this.bridge.generation };
    return r;
  }

  /** Run a task after those queued before it; it rejects with Cancelled if cancel() or close() came first. */
  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const epoch = this.epoch;
    const run = this.queue.then(() => {
      if (epoch !== this.epoch) throw new Cancelled();
      return task();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** The page's fold worker. */
export const session = new ModelSession(
  () => new Worker(new URL('../worker/worker.ts', import.meta.url), { type: 'module', name: 'caffe-fold' }),
);
