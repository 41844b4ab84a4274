/**
 * The whole-net check: run the original and the folded pair in a real Caffe engine on the same seeded input and
 * compare every net output (see types.ts). Pure: the engine is handed in.
 *
 * How the verdict is reached:
 * - Inputs and outputs come from our own parser and shape inference: the inputs are the `input:` blobs and the
 *   tops of Input layers, with their declared or inferred shapes; the outputs are the blobs no layer reads. The two
 *   nets must have the same inputs and the same outputs, by name.
 * - OpenCV fuses BatchNorm, Scale and Power into the layer that produces their input when it sets a net up, unless
 *   that layer's output is requested. A fused original would be no independent reference (and OpenCV's fusion is
 *   wrong for grouped Deconvolution), so both nets are asked for ("pinned" at) the output of every layer whose
 *   output a BatchNorm, Scale or Power layer reads, besides the net outputs. The engine names outputs by LAYER:
 *   a net output is asked for as its producing layer (OpenCV gives a layer's first top only).
 * - A net already run and then asked for other outputs returns wrong values in OpenCV, so every net is loaded
 *   fresh and always asked for the same outputs.
 * - Error per output: maxAbsError = max |folded − original|, maxRelError = maxAbsError / max |original|.
 *   The bound comes from the net's own float32 noise, measured: the original is run a second time on the same
 *   input with every value moved by one float32 ulp, up or down at random; an output's noise is its maxRelError
 *   between the two runs, and its threshold is max(MIN_THRESHOLD, NOISE_FACTOR × noise). A fold rounds every
 *   folded weight once to float32 (the same relative size, 2⁻²⁴, as one input ulp) and changes the order of a few
 *   additions, in every folded layer rather than once at the input; on the corpus an exact fold measures 0.5–4× the
 *   input-ulp noise (see test/corpus-check.test.ts), so NOISE_FACTOR = 16 leaves room for that and for the spread of
 *   a single noise sample, while a real mistake (a weight 1 % off, an eps changed) lands orders of magnitude above.
 *   The probe does not see round-off made inside the net (a BatchNorm subtracting a mean close to its input, then
 *   scaling up), which the fold's float32 weights meet as well: a random net whose probe measured under 1e-6 showed
 *   1.4e-5 for an exact fold (graph fuzzer). Hence the floor MIN_THRESHOLD = 1e-4, the independent Python oracle's
 *   own floor; a ResNet-50 with one convolution 0.1 % off still lands 5× above its threshold.
 * - Anything the engine cannot load or run is 'not-run' with its reason, never 'equal'.
 */
import { isCaffeFoldError, stop } from '../errors';
import { buildNet, type Net, type NetLayer } from '../net';
import { parsePrototxtFile } from '../pipeline';
import { inferShapes } from '../shapes';
import { mulberry32, randomNormal } from '../fold/reference';
import { producerInfo } from '../fold/analyse';
import { readCaffemodel } from '../caffemodel';
import type { Engine, EngineNet, EngineTensor, Latency, OutputComparison, WholeNetCheck } from './types';

export type { Engine, EngineNet, EngineTensor, Latency, OutputComparison, WholeNetCheck } from './types';

export interface ModelFiles {
  prototxt: Uint8Array;
  caffemodel: Uint8Array;
  /** For messages, e.g. the prototxt's file name. */
  name?: string;
}

export interface CompareOptions {
  /** Seed of the input (default 1). */
  seed?: number;
  /** Timed runs of each net after a warm-up (default 5); 0: no timing. */
  timingRuns?: number;
  onProgress?: (step: string, done: number, total: number) => void;
}

/** The threshold is NOISE_FACTOR × the measured noise, and never below MIN_THRESHOLD (see the module doc). */
export const NOISE_FACTOR = 16;
export const MIN_THRESHOLD = 1e-4;

/** The layer types OpenCV fuses into the layer before them when that layer's output is not requested. */
const FUSED_TYPES = new Set(['BatchNorm', 'Scale', 'Power']);

/** What to feed a net and what to ask it for, from our own reading of its prototxt. */
export interface RunPlan {
  inputs: { name: string; shape: number[] }[];
  /** Net output blob → the engine's name of the layer that produces it. */
  outputs: Map<string, string>;
  /** Engine layer names whose outputs are requested to keep BatchNorm/Scale/Power from being fused into them. */
  pins: string[];
  /** Everything asked of the engine, in this order: outputs first, then pins. */
  request: string[];
}

/** Read a prototxt into a RunPlan; throws an Error saying why the net cannot be run. */
export function planRun(prototxt: Uint8Array, file = 'prototxt'): RunPlan {
  const doc = parsePrototxtFile({ name: file, bytes: prototxt });
  const net = buildNet(doc);
  const { shapes } = inferShapes(net);
  const engineName = engineLayerNames(net);

  const inputs = planInputs(net, shapes);

  const misread = net.layers.find((l) => l.type === 'InnerProduct' && producerInfo(l).transpose);
  if (misread) {
    // Measured in 4.12: the same weights stored transposed with transpose: true give other outputs (test/check.test.ts).
    throw new Error(
      `InnerProduct "${misread.name}" has transpose: true, which OpenCV DNN ignores (it would compute another function).`,
    );
  }

  const outputs = planOutputs(net, engineName);
  const pins = fusionPins(net, engineName);
  const request = [...new Set([...outputs.values()])];
  for (const p of pins) if (!request.includes(p)) request.push(p);
  return { inputs, outputs, pins, request };
}

/** The net's inputs (the `input:` blobs, then the tops of Input layers), each with a known shape; or throws why not. */
function planInputs(net: Net, shapes: ReturnType<typeof inferShapes>['shapes']): RunPlan['inputs'] {
  const inputs: RunPlan['inputs'] = [];
  for (const i of net.inputs) inputs.push({ name: i.name, shape: i.shape ?? [] });
  for (const l of net.layers) {
    if (l.type !== 'Input') continue;
    l.topRefs.forEach((r) => inputs.push({ name: r.name, shape: shapes.get(r.id) ?? [] }));
  }
  if (inputs.length === 0) {
    const data = net.layers.find((l) => /Data$/.test(l.type));
    throw new Error(
      data
        ? `The net has no declared input, only the data layer "${data.name}" (${data.type}): give the deploy prototxt (with an Input layer or input_shape).`
        : 'The net declares no input (no "input:" and no Input layer).',
    );
  }
  for (const i of inputs) {
    if (i.shape.length === 0 || i.shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new Error(
        `Input "${i.name}" has no known shape${i.shape.length ? ` ([${i.shape.join(', ')}])` : ''}: declare it with input_shape or an Input layer's shape.`,
      );
    }
  }
  return inputs;
}

/** Net output blob → the engine's name of its producing layer (a Softmax's input as well); or throws why not. */
function planOutputs(net: Net, engineName: Map<NetLayer, string>): Map<string, string> {
  const outputs = new Map<string, string>();
  for (const o of net.outputs) {
    const p = net.producer.get(o.id) ?? -1;
    if (p < 0) continue; // an input nobody reads is no output
    const layer = net.layers[p];
    if (layer.type === 'Input') continue;
    const k = layer.topRefs.findIndex((r) => r.id === o.id);
    if (k !== 0) {
      throw new Error(
        `Net output "${o.name}" is top ${k + 1} of ${layer.type} layer "${layer.name}": the engine returns only a layer's first top.`,
      );
    }
    outputs.set(o.name, engineName.get(layer)!);
    const logits = layer.type === 'Softmax' ? softmaxInput(net, layer) : undefined;
    if (logits) outputs.set(`${o.name} (its Softmax's input)`, engineName.get(logits)!);
  }
  if (outputs.size === 0) throw new Error('The net has no output (every blob is read by some layer).');
  return outputs;
}

/** The engine names of the layers whose output a BatchNorm, Scale or Power reads: asked for, so none is fused. */
function fusionPins(net: Net, engineName: Map<NetLayer, string>): string[] {
  const pins: string[] = [];
  for (const l of net.layers) {
    if (!FUSED_TYPES.has(l.type)) continue;
    for (const r of l.bottomRefs) {
      const p = net.producer.get(r.id) ?? -1;
      if (p < 0) continue;
      const prod = net.layers[p];
      // An Input layer is not a layer to the engine, and only a first top can be asked for (and fused into).
      if (prod.type === 'Input' || prod.topRefs[0]?.id !== r.id) continue;
      const n = engineName.get(prod)!;
      if (!pins.includes(n)) pins.push(n);
    }
  }
  return pins;
}

/**
 * A Softmax squeezes differences (a saturated class stays at 1 whatever the logits do), so an output made by a
 * Softmax is compared on its input too, as the Python oracle does: the layer that produced it, when that is its
 * first top and the Softmax is its only reader.
 */
function softmaxInput(net: Net, softmax: NetLayer): NetLayer | undefined {
  const r = softmax.bottomRefs[0];
  const p = r ? (net.producer.get(r.id) ?? -1) : -1;
  if (p < 0) return undefined;
  const l = net.layers[p];
  return l.topRefs[0]?.id === r.id && l.type !== 'Input' ? l : undefined;
}

/**
 * OpenCV's names of the layers: its Caffe importer reads every layer of the file (no phase rules) and renames
 * the n-th repeat of a name to `name_n`; and a Convolution takes the name of its (first) top — measured in
 * OpenCV 4.6 (getLayerNames) and 4.12 (a Convolution "conv" with top "x" answers to "x" only).
 */
function engineLayerNames(net: Net): Map<NetLayer, string> {
  const all = [
    ...net.layers.map((l) => ({ l, at: l.field.nameSpan.start, name: l.name })),
    ...net.excluded.map((x) => ({ l: undefined, at: x.field.nameSpan.start, name: x.name })),
  ];
  all.sort((a, b) => a.at - b.at);
  const count = new Map<string, number>();
  const out = new Map<NetLayer, string>();
  for (const { l, name } of all) {
    const n = count.get(name) ?? 0;
    count.set(name, n + 1);
    if (l) out.set(l, l.type === 'Convolution' && l.tops.length ? l.tops[0] : n ? `${name}_${n}` : name);
  }
  return out;
}

/** The seeded input: N(0, 1) values, rounded to float32. */
export function seededInputs(inputs: { name: string; shape: number[] }[], seed: number): EngineTensor[] {
  return inputs.map((i, k) => {
    const n = i.shape.reduce((a, b) => a * b, 1);
    return { name: i.name, shape: i.shape.slice(), data: Float32Array.from(randomNormal(n, seed + 7919 * k)) };
  });
}

/** Every value moved by one float32 ulp, up or down at random (the noise probe). */
export function nudged(inputs: EngineTensor[], seed: number): EngineTensor[] {
  const next = mulberry32(seed ^ 0x5bd1e995);
  return inputs.map((t) => {
    const data = t.data.slice();
    const bits = new Int32Array(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < data.length; i++) {
      const up = next() < 0.5;
      const x = data[i];
      if (x === 0) data[i] = up ? 1.401298464324817e-45 : -1.401298464324817e-45;
      else if (Number.isFinite(x)) bits[i] += x > 0 === up ? 1 : -1; // away from or towards zero
    }
    return { ...t, data };
  });
}

/** maxAbs and maxRel of `got` against `ref`; NaN where only one side is NaN counts as infinitely wrong. */
export function outputError(ref: Float32Array, got: Float32Array): { maxAbsError: number; maxRelError: number } {
  if (ref.length !== got.length) return { maxAbsError: Infinity, maxRelError: Infinity };
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = ref[i];
    const b = got[i];
    let d = Math.abs(a - b);
    if (Number.isNaN(d)) d = Number.isNaN(a) && Number.isNaN(b) ? 0 : a === b ? 0 : Infinity;
    if (d > maxAbs) maxAbs = d;
    const m = Math.abs(a);
    if (m > scale && m !== Infinity) scale = m;
  }
  return { maxAbsError: maxAbs, maxRelError: scale > 0 ? maxAbs / scale : maxAbs === 0 ? 0 : Infinity };
}

const median = (xs: number[]) => {
  const s = xs.slice().sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const now = (): number => (globalThis as { performance?: { now(): number } }).performance?.now() ?? Date.now();

/** The first layer whose blobs are stored as doubles (OpenCV's reader asserts on them: measured in 4.12), if any. */
function doubleBlobLayer(caffemodel: Uint8Array): string | undefined {
  try {
    return readCaffemodel(caffemodel).layers.find((l) => l.blobs.some((b) => b.dtype === 'float64'))?.name;
  } catch {
    return undefined; // the engine's own reading will say what is wrong
  }
}

/** Why something failed, for a 'not-run' reason: sentences (the engine's own texts may have no full stop). */
function why(e: unknown): string {
  if (isCaffeFoldError(e)) return e.message;
  return stop(e instanceof Error ? e.message : String(e));
}

/**
 * Run the original and the folded pair in `engine` on the same seeded input and compare every net output
 * (the procedure and the threshold are in the module doc). Runs: the original twice (input, nudged input), the
 * folded once, then with timingRuns > 0 both that many times more, interleaved, for the latency.
 */
export function compareModels(
  engine: Engine,
  original: ModelFiles,
  folded: ModelFiles,
  opts: CompareOptions = {},
): WholeNetCheck {
  const seed = opts.seed ?? 1;
  const timingRuns = Math.max(0, Math.floor(opts.timingRuns ?? 5));
  const total = 5 + (timingRuns > 0 ? 1 : 0);
  let done = 0;
  const step = (s: string) => opts.onProgress?.(s, done++, total);
  const result: WholeNetCheck = { engine: engine.name, status: 'not-run', seed, inputs: [], outputs: [], noise: 0 };
  const notRun = (reason: string): WholeNetCheck => ({ ...result, status: 'not-run', reason });

  step('read');
  const plans = readPlans(engine, original, folded, result);
  if (typeof plans === 'string') return notRun(plans);
  const { planA, planB } = plans;
  result.inputs = planA.inputs.map((i) => ({ name: i.name, shape: i.shape.slice() }));
  const inputsDiffer = inputMismatch(planA, planB);
  if (inputsDiffer) return { ...result, status: 'different', reason: inputsDiffer };
  const { names, problems } = matchOutputs(planA, planB);

  const c: CheckRun = {
    engine,
    original,
    folded,
    planA,
    planB,
    names,
    x: seededInputs(planA.inputs, seed),
    seed,
    timingRuns,
    step,
  };
  try {
    step('load original');
    const unreadable = doubleBlobRefusal(engine, original, folded);
    if (unreadable) return notRun(unreadable);
    const a = runOriginal(c);
    if (typeof a === 'string') return notRun(a);
    const outB = runFolded(c);
    if (typeof outB === 'string') return notRun(outB);
    judge(result, names, a.ref, a.probe, outB, problems);

    if (timingRuns > 0 && c.netA && c.netB) {
      step('timing'); // the pinned configuration for both, as checked: no BatchNorm fusion in the original either
      result.latency = time(c.netA, c.netB, c.x, planA, planB, timingRuns);
    }
    step('done');
    return result;
  } finally {
    c.netA?.dispose();
    c.netB?.dispose();
  }
}

/** What the phases of one check share. */
interface CheckRun {
  engine: Engine;
  original: ModelFiles;
  folded: ModelFiles;
  planA: RunPlan;
  planB: RunPlan;
  /** The net outputs both nets have: the ones compared. */
  names: string[];
  /** The seeded input. */
  x: EngineTensor[];
  seed: number;
  timingRuns: number;
  step: (s: string) => void;
  /** The nets loaded now (the original, the folded); compareModels disposes of them whatever happens. */
  netA?: EngineNet;
  netB?: EngineNet;
}

/** Net output name → its values. */
type Outputs = Map<string, EngineTensor>;

/** Both nets' run plans, or why one cannot be run; for an engine of one image, every batch becomes 1 (noted). */
function readPlans(
  engine: Engine,
  original: ModelFiles,
  folded: ModelFiles,
  result: WholeNetCheck,
): { planA: RunPlan; planB: RunPlan } | string {
  let planA: RunPlan;
  let planB: RunPlan;
  try {
    planA = planRun(original.prototxt, original.name ?? 'original');
  } catch (e) {
    return `The original: ${why(e)}`;
  }
  try {
    planB = planRun(folded.prototxt, folded.name ?? 'folded');
  } catch (e) {
    return `The folded net: ${why(e)}`;
  }
  if (engine.singleImage) {
    for (const p of [planA, planB]) {
      for (const i of p.inputs) {
        if (i.shape.length < 2 || i.shape[0] <= 1) continue;
        if (p === planA)
          (result.notes ??= []).push(
            `input "${i.name}" is declared with a batch of ${i.shape[0]}; ${engine.name} takes one image, so the check runs a batch of 1`,
          );
        i.shape = [1, ...i.shape.slice(1)];
      }
    }
  }
  return { planA, planB };
}

/** Why the two nets do not take the same inputs (names and shapes, in order), if they do not. */
function inputMismatch(planA: RunPlan, planB: RunPlan): string | undefined {
  const sameInputs =
    planA.inputs.length === planB.inputs.length &&
    planA.inputs.every((i, k) => i.name === planB.inputs[k].name && i.shape.join() === planB.inputs[k].shape.join());
  if (sameInputs) return undefined;
  const s = (p: RunPlan) => p.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ');
  return `the inputs differ: original ${s(planA)}, folded ${s(planB)}`;
}

/** The outputs both nets have (compared), and a problem for the outputs only one of them has. */
function matchOutputs(planA: RunPlan, planB: RunPlan): { names: string[]; problems: string[] } {
  const onlyA = [...planA.outputs.keys()].filter((n) => !planB.outputs.has(n));
  const onlyB = [...planB.outputs.keys()].filter((n) => !planA.outputs.has(n));
  const problems: string[] = [];
  if (onlyA.length)
    problems.push(
      `output(s) ${onlyA.map((n) => `"${n}"`).join(', ')} of the original are not outputs of the folded net`,
    );
  if (onlyB.length)
    problems.push(
      `output(s) ${onlyB.map((n) => `"${n}"`).join(', ')} of the folded net are not outputs of the original`,
    );
  const names = [...planA.outputs.keys()].filter((n) => planB.outputs.has(n));
  return { names, problems };
}

/** One forward with the plan's request; the engine answers by layer, the check compares by net output. */
function runNet(net: EngineNet, inputs: EngineTensor[], plan: RunPlan, names: string[]): Outputs {
  const outs = net.forward(inputs, plan.request);
  const byLayer = new Map(plan.request.map((n, k) => [n, outs[k]]));
  return new Map(names.map((n) => [n, byLayer.get(plan.outputs.get(n)!)!]));
}

/** Why the engine cannot read one of the two caffemodels (blobs stored as doubles), before loading either. */
function doubleBlobRefusal(engine: Engine, original: ModelFiles, folded: ModelFiles): string | undefined {
  for (const [which, files] of [
    ['the original', original],
    ['the folded net', folded],
  ] as const) {
    const unreadable = doubleBlobLayer(files.caffemodel);
    if (unreadable)
      return `In ${which}, layer "${unreadable}" stores its blobs as double_data, which ${engine.name} cannot read.`;
  }
  return undefined;
}

/** Load the original and run it on the input and on the nudged input (the noise probe); or why it cannot be. */
function runOriginal(c: CheckRun): { ref: Outputs; probe: Outputs } | string {
  try {
    c.netA = c.engine.load(c.original.prototxt, c.original.caffemodel);
  } catch (e) {
    return `${c.engine.name} cannot load the original: ${why(e)}`;
  }
  c.step('run original');
  try {
    const ref = runNet(c.netA, c.x, c.planA, c.names);
    const probe = runNet(c.netA, nudged(c.x, c.seed), c.planA, c.names);
    return { ref, probe };
  } catch (e) {
    return `${c.engine.name} cannot run the original: ${why(e)}`;
  }
}

/** Load the folded net and run it on the input; or why it cannot be. */
function runFolded(c: CheckRun): Outputs | string {
  c.step('load folded');
  if (c.timingRuns === 0) {
    // Not needed any more: both nets at once only for the interleaved timing (WebAssembly memory is tight).
    c.netA?.dispose();
    c.netA = undefined;
  }
  try {
    c.netB = c.engine.load(c.folded.prototxt, c.folded.caffemodel);
  } catch (e) {
    if (!c.netA) return `${c.engine.name} cannot load the folded net: ${why(e)}`;
    // Perhaps both do not fit at once: free the original and try again, without timing.
    c.netA.dispose();
    c.netA = undefined;
    try {
      c.netB = c.engine.load(c.folded.prototxt, c.folded.caffemodel);
    } catch (e2) {
      return `${c.engine.name} cannot load the folded net: ${why(e2)}`;
    }
  }
  c.step('run folded');
  try {
    return runNet(c.netB, c.x, c.planB, c.names);
  } catch (e) {
    return `${c.engine.name} cannot run the folded net: ${why(e)}`;
  }
}

/**
 * The verdict: every output compared with the original's under its own threshold (NOISE_FACTOR × the noise the
 * probe measured on it, at least MIN_THRESHOLD); `problems` (outputs only one net has, shapes that differ) fail it.
 */
function judge(
  result: WholeNetCheck,
  names: string[],
  refA: Outputs,
  probe: Outputs,
  outB: Outputs,
  problems: string[],
): void {
  let noise = 0;
  for (const n of names) {
    const a = refA.get(n)!;
    const b = outB.get(n)!;
    const own = outputError(a.data, probe.get(n)!.data).maxRelError;
    const threshold = Math.max(MIN_THRESHOLD, NOISE_FACTOR * own);
    if (Number.isFinite(own)) noise = Math.max(noise, own);
    const sameShape = a.shape.join() === b.shape.join();
    const err = sameShape ? outputError(a.data, b.data) : { maxAbsError: Infinity, maxRelError: Infinity };
    if (!sameShape)
      problems.push(
        `output "${n}" has shape [${a.shape.join(', ')}] in the original and [${b.shape.join(', ')}] in the folded net`,
      );
    const c: OutputComparison = {
      name: n,
      shape: a.shape.slice(),
      ...err,
      threshold,
      pass: err.maxRelError <= threshold,
      noise: own,
    };
    result.outputs.push(c);
  }
  result.noise = noise;
  const pass = problems.length === 0 && result.outputs.every((o) => o.pass);
  result.status = pass ? 'equal' : 'different';
  if (problems.length) result.reason = problems.join('; ');
  else if (!pass)
    result.reason = result.outputs
      .filter((o) => !o.pass)
      .map(
        (o) => `output "${o.name}": max rel. error ${o.maxRelError.toExponential(2)} > ${o.threshold.toExponential(2)}`,
      )
      .join('; ');
}

/**
 * `runs` interleaved runs of both (A, B, A, B, …), medians. Both nets are warm already: each has run the check's
 * input (set-up, allocation), so no separate warm-up is spent (a ResNet-50 run takes seconds in WebAssembly).
 */
function time(
  a: EngineNet,
  b: EngineNet,
  x: EngineTensor[],
  pa: RunPlan,
  pb: RunPlan,
  runs: number,
): Latency | undefined {
  try {
    const ta: number[] = [];
    const tb: number[] = [];
    for (let i = 0; i < runs; i++) {
      let t = now();
      a.forward(x, pa.request);
      ta.push(now() - t);
      t = now();
      b.forward(x, pb.request);
      tb.push(now() - t);
    }
    const originalMs = median(ta);
    const foldedMs = median(tb);
    return { originalMs, foldedMs, ratio: foldedMs / originalMs, runs };
  } catch {
    return undefined;
  }
}
