#!/usr/bin/env node
/**
 * caffe-fold CLI: fold BatchNorm/Scale chains of a Caffe model.
 *   npm run fold -- --model M.prototxt --weights W.caffemodel [--output_model O.prototxt] [--output_weights O.caffemodel]
 *                   [--report R.json] [--dry-run] [--skip LAYER ...] [--zero-factor caffe|one] [--allow-missing-weights] [--verify]
 *   npm run fold -- compare --model A.prototxt --weights A.caffemodel --against B.prototxt B.caffemodel
 * Flag names of the classic pycaffe merge script (underscore and dash forms).
 */
import { closeSync, openSync, readFileSync, realpathSync, statSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CaffeFoldError, isCaffeFoldError } from '../core/errors';
import { MAX_FILE_BYTES, foldLoaded, loadFiles, outputNames, type FoldReport } from '../core/pipeline';
import { MIN_THRESHOLD, NOISE_FACTOR, compareModels, type Engine, type WholeNetCheck } from '../core/check';
import { openCvEngine } from './engine';

export interface CliOptions {
  model: string;
  weights?: string;
  outputModel?: string;
  outputWeights?: string;
  report?: string;
  dryRun: boolean;
  skip: string[];
  zeroFactor: 'caffe' | 'one';
  quiet: boolean;
  allowMissingWeights: boolean;
  /** Run the whole-net check on the output (OpenCV DNN in WebAssembly). */
  verify: boolean;
  seed: number;
  timingRuns: number;
}

export interface CompareCliOptions {
  model: string;
  weights: string;
  against: [string, string];
  report?: string;
  seed: number;
  timingRuns: number;
  quiet: boolean;
}

export class UsageError extends Error {}

const USAGE = `Usage: npm run fold -- --model NET.prototxt --weights NET.caffemodel [options]

Folds every legal Convolution/Deconvolution/InnerProduct → BatchNorm → Scale chain (and BN+Scale → Scale),
proves each fold on a random input, and writes <base>_inference.prototxt / <base>_inference.caffemodel.

Options:
  --model, -m FILE            the network definition (.prototxt)
  --weights, -w FILE          its weights (.caffemodel)
  --output_model FILE         where to write the folded .prototxt (default: <base>_inference.prototxt beside it)
  --output_weights FILE       where to write the folded .caffemodel (default: <base>_inference.caffemodel)
  --report FILE               write a JSON report (chains, proofs, refusals, layer counts)
  --dry-run                   analyse and prove, write nothing but the report
  --skip LAYER [LAYER ...]    leave the chains containing these layers as they are
  --zero-factor caffe|one     how to read a BatchNorm moving-average factor of 0: Caffe's rule (default), or NVCaffe's (as 1)
  --allow-missing-weights     fold even when layers that need weights have none in the .caffemodel (they keep
                              their initial values; by default that is an error)
  --verify                    run the original and the folded net in OpenCV DNN (WebAssembly) on the same seeded input
                              and compare every net output (the written pair, or the in-memory one with --dry-run);
                              exit 1 when they differ; a net OpenCV cannot run is reported (exit 0, nothing proven)
  --seed N                    the check's input seed (default 1)
  --timing-runs N             timed runs of each net in the check (default 5; 0: no timing)
  --quiet, -q                 print only errors
  --help, -h                  this text

       npm run fold -- compare --model A.prototxt --weights A.caffemodel --against B.prototxt B.caffemodel
                               [--report R.json] [--seed N] [--timing-runs N] [-q]

Runs two models in OpenCV DNN (WebAssembly) on the same seeded input and compares every net output, as cmp does
for files: exit 0 when they agree, 1 when they differ, 2 when they could not be compared (usage, bad or missing
file, a layer OpenCV cannot run).`;

function intArg(flag: string, v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new UsageError(`${flag} takes a whole number ≥ 0, not "${v}"`);
  return n;
}

export function parseArgs(argv: string[]): CliOptions {
  const o: Partial<CliOptions> & { skip: string[] } = { skip: [], dryRun: false, zeroFactor: 'caffe', quiet: false, allowMissingWeights: false, verify: false, seed: 1, timingRuns: 5 };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const key = a.replace(/^--?/, '').replace(/-/g, '_');
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (key) {
      case 'model':
      case 'm':
        o.model = value();
        break;
      case 'weights':
      case 'w':
        o.weights = value();
        break;
      case 'output_model':
        o.outputModel = value();
        break;
      case 'output_weights':
        o.outputWeights = value();
        break;
      case 'report':
        o.report = value();
        break;
      case 'dry_run':
        o.dryRun = true;
        break;
      case 'allow_missing_weights':
        o.allowMissingWeights = true;
        break;
      case 'quiet':
      case 'q':
        o.quiet = true;
        break;
      case 'skip': {
        if (inline !== undefined) o.skip.push(...inline.split(',').filter(Boolean));
        else {
          let n = 0;
          while (i + 1 < argv.length && !argv[i + 1].startsWith('-')) {
            o.skip.push(...argv[++i].split(',').filter(Boolean));
            n++;
          }
          if (n === 0) throw new UsageError('--skip needs at least one layer name');
        }
        break;
      }
      case 'zero_factor': {
        const v = value();
        if (v !== 'caffe' && v !== 'one') throw new UsageError(`--zero-factor takes "caffe" or "one", not "${v}"`);
        o.zeroFactor = v;
        break;
      }
      case 'verify':
        o.verify = true;
        break;
      case 'seed':
        o.seed = intArg(a, value());
        break;
      case 'timing_runs':
        o.timingRuns = intArg(a, value());
        break;
      case 'help':
      case 'h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${argv[i]}`);
    }
  }
  if (!o.model) throw new UsageError('--model is required');
  return o as CliOptions;
}

export function parseCompareArgs(argv: string[]): CompareCliOptions {
  const o: Partial<CompareCliOptions> = { seed: 1, timingRuns: 5, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let inline: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || (inline === undefined && v.startsWith('--'))) throw new UsageError(`${a} needs a value`);
      return v;
    };
    switch (a.replace(/^--?/, '').replace(/-/g, '_')) {
      case 'model':
      case 'm':
        o.model = value();
        break;
      case 'weights':
      case 'w':
        o.weights = value();
        break;
      case 'against': {
        const p = value();
        const w = argv[++i];
        if (inline !== undefined || w === undefined || w.startsWith('--')) throw new UsageError('--against needs two files: B.prototxt B.caffemodel');
        o.against = [p, w];
        break;
      }
      case 'report':
        o.report = value();
        break;
      case 'seed':
        o.seed = intArg(a, value());
        break;
      case 'timing_runs':
        o.timingRuns = intArg(a, value());
        break;
      case 'quiet':
      case 'q':
        o.quiet = true;
        break;
      case 'help':
      case 'h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option ${argv[i]}`);
    }
  }
  if (!o.model || !o.weights) throw new UsageError('compare needs --model A.prototxt --weights A.caffemodel');
  if (!o.against) throw new UsageError('compare needs --against B.prototxt B.caffemodel');
  return o as CompareCliOptions;
}

function samePath(a: string, b: string): boolean {
  const r = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  return r(a) === r(b);
}

export interface CliResult {
  code: number;
  report?: FoldReport;
  /** The whole-net check (--verify, or compare). */
  check?: WholeNetCheck;
}

/** Read a whole input file, refusing one over 2 GB before reading it; errors say which file and why. */
function readInput(p: string): Uint8Array {
  try {
    const size = statSync(p).size;
    if (size > MAX_FILE_BYTES) {
      throw new CaffeFoldError('file-too-large', `the file is ${(size / 2 ** 30).toFixed(2)} GB; caffe-fold reads files up to 2 GB`, { kind: 'file', file: p }, 'Caffe itself cannot read protobuf messages over 2 GB either: check the file');
    }
    // A Buffer is a Uint8Array: no copy.
    return readFileSync(p);
  } catch (e) {
    if (isCaffeFoldError(e)) throw e;
    throw new Error(`cannot read ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

let engine: Promise<Engine> | undefined;
/** The check's engine, loaded once per process (opencv.js takes about a second to start). */
const theEngine = () => (engine ??= openCvEngine());

const stdout = (s: string) => process.stdout.write(s + '\n');
const stderr = (s: string) => process.stderr.write(s + '\n');

export async function runCli(argv: string[], out: (s: string) => void = stdout, err: (s: string) => void = stderr): Promise<CliResult> {
  if (argv[0] === 'compare') return runCompare(argv.slice(1), out, err);
  let opts: CliOptions;
  try {
    opts = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) err(`caffe-fold: ${e.message}\n`);
      (e.message ? err : out)(USAGE);
      return { code: e.message ? 2 : 0 };
    }
    throw e;
  }
  const log = opts.quiet ? () => {} : out;
  try {
    const read = readInput;
    const loaded = loadFiles({ name: basename(opts.model), bytes: read(opts.model) }, opts.weights ? { name: basename(opts.weights), bytes: read(opts.weights) } : undefined, {
      zeroFactor: opts.zeroFactor,
      allowMissingWeights: opts.allowMissingWeights,
    });
    if (!opts.weights) {
      log(summaryOfAnalysis(loaded.analysis.chains.length, loaded.analysis.refusals));
      err('caffe-fold: no --weights given: analysed the structure only; give the .caffemodel to fold.');
      return { code: opts.dryRun ? 0 : 2 };
    }
    // In place: the weights are folded in the bytes read from the file (ours; the file itself is never written).
    const result = foldLoaded(loaded, { skip: opts.skip, zeroFactor: opts.zeroFactor, inPlace: true });
    const names = outputNames(opts.model, opts.weights);
    const outModel = opts.outputModel ?? join(dirname(opts.model), names.prototxt);
    const outWeights = opts.outputWeights ?? join(dirname(opts.weights), names.caffemodel);
    for (const [o, label] of [
      [outModel, '--output_model'],
      [outWeights, '--output_weights'],
    ] as const) {
      if (samePath(o, opts.model) || samePath(o, opts.weights)) throw new Error(`${label} ${o} is one of the input files; caffe-fold never overwrites its input: choose another name`);
    }
    const r = result.report;
    log(`${opts.model}: ${r.layers.before} layers → ${r.layers.after} (${r.removedLayers.length} removed)`);
    log(`folded ${r.chains.length} chain(s):`);
    for (const c of r.chains) log(`  ${c.label.padEnd(18)} ${c.layers.join(' → ')}   max rel. error ${c.proof.maxRelError.toExponential(1)}${c.moveTo ? `   (placed at "${c.moveTo}")` : ''}`);
    log(structureLine(r));
    const refused = r.refusals.filter((x) => x.code !== 'skipped');
    const skipped = r.refusals.filter((x) => x.code === 'skipped');
    if (skipped.length) log(`left on request: ${skipped.map((s) => s.layer).join(', ')}`);
    log(`not folded: ${refused.length}`);
    for (const x of refused) log(`  ${x.type} "${x.layer}": ${x.reason}`);
    for (const w of r.warnings) log(`warning: ${w.layer ? `"${w.layer}": ` : ''}${w.message}`);
    if (!opts.dryRun) {
      writeFileSync(outModel, result.prototxt.text);
      const fd = openSync(outWeights, 'w');
      try {
        for (const c of result.caffemodel.chunks) writeSync(fd, c);
      } finally {
        closeSync(fd);
      }
      log(`wrote ${outModel}\nwrote ${outWeights}`);
    } else log('dry run: nothing written');
    let check: WholeNetCheck | undefined;
    if (opts.verify) {
      // The fold wrote over the weights it read (in place): the original is read again from its file, which is
      // never written. The folded pair is the one written, or with --dry-run the one in memory.
      const original = { prototxt: read(opts.model), caffemodel: read(opts.weights), name: basename(opts.model) };
      const folded = opts.dryRun
        ? { prototxt: new TextEncoder().encode(result.prototxt.text), caffemodel: concat(result.caffemodel.chunks), name: result.prototxt.name }
        : { prototxt: read(outModel), caffemodel: read(outWeights), name: basename(outModel) };
      check = compareModels(await theEngine(), original, folded, { seed: opts.seed, timingRuns: opts.timingRuns });
      for (const line of checkTable(check)) log(line);
      if (check.status === 'not-run') err(`caffe-fold: warning: the whole-net check did not run: ${check.reason}`);
    }
    if (opts.report) {
      writeFileSync(opts.report, JSON.stringify({ ...reportJson(r, opts), ...(check ? { check } : {}) }, null, 2) + '\n');
      log(`wrote ${opts.report}`);
    }
    if (check?.status === 'different') {
      err(`caffe-fold: the folded net's outputs differ from the original's: ${check.reason}`);
      return { code: 1, report: r, check };
    }
    return { code: 0, report: r, check };
  } catch (e) {
    if (isCaffeFoldError(e)) {
      err(`caffe-fold: ${e.message}`);
      return { code: 1 };
    }
    if (e instanceof Error && /^cannot read|never overwrites/.test(e.message)) {
      err(`caffe-fold: ${e.message}`);
      return { code: 1 };
    }
    throw e;
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const exp = (x: number) => (Number.isFinite(x) ? x.toExponential(1) : String(x));
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

/** The check as printed: each output's errors against its threshold, the noise, the latencies. */
export function checkTable(c: WholeNetCheck): string[] {
  const lines = [`whole-net check in ${c.engine}, seed ${c.seed}, input ${c.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ') || '—'}: ${c.status === 'equal' ? 'EQUAL' : c.status === 'different' ? 'DIFFERENT' : 'NOT RUN'}`];
  if (c.outputs.length) {
    const rows = [['output', 'shape', 'max abs', 'max rel', 'threshold', 'pass'], ...c.outputs.map((o) => [o.name, `[${o.shape.join(', ')}]`, exp(o.maxAbsError), exp(o.maxRelError), exp(o.threshold), o.pass ? 'yes' : 'NO'])];
    const w = rows[0].map((_, k) => Math.max(...rows.map((r) => r[k].length)));
    for (const r of rows) lines.push('  ' + r.map((x, k) => x.padEnd(w[k])).join('  ').trimEnd());
    lines.push(`  noise ${exp(c.noise)} (the original against itself on a 1-ulp nudged input); threshold = max(${MIN_THRESHOLD.toExponential(0)}, ${NOISE_FACTOR} × the output's noise)`);
  }
  for (const n of c.notes ?? []) lines.push(`  note: ${n}`);
  if (c.reason) lines.push(`  ${c.status === 'not-run' ? 'not run' : 'differs'}: ${c.reason}`);
  if (c.latency) {
    const l = c.latency;
    lines.push(`  latency (median of ${l.runs}, interleaved): original ${ms(l.originalMs)} ms, folded ${ms(l.foldedMs)} ms, ratio ${l.ratio.toFixed(2)}×`);
  }
  return lines;
}

/** compare mode: exit 0 equal, 1 different, 2 could not compare (as cmp). */
async function runCompare(argv: string[], out: (s: string) => void, err: (s: string) => void): Promise<CliResult> {
  let opts: CompareCliOptions;
  try {
    opts = parseCompareArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      if (e.message) err(`caffe-fold compare: ${e.message}\n`);
      (e.message ? err : out)(USAGE);
      return { code: e.message ? 2 : 0 };
    }
    throw e;
  }
  const log = opts.quiet ? () => {} : out;
  let check: WholeNetCheck;
  try {
    const a = { prototxt: readInput(opts.model), caffemodel: readInput(opts.weights), name: basename(opts.model) };
    const b = { prototxt: readInput(opts.against[0]), caffemodel: readInput(opts.against[1]), name: basename(opts.against[0]) };
    check = compareModels(await theEngine(), a, b, { seed: opts.seed, timingRuns: opts.timingRuns });
  } catch (e) {
    if (isCaffeFoldError(e) || (e instanceof Error && /^cannot read/.test(e.message))) {
      err(`caffe-fold compare: ${(e as Error).message}`);
      return { code: 2 };
    }
    throw e;
  }
  for (const line of checkTable(check)) log(line);
  if (opts.report) {
    writeFileSync(opts.report, JSON.stringify({ model: opts.model, weights: opts.weights, against: opts.against, check }, null, 2) + '\n');
    log(`wrote ${opts.report}`);
  }
  if (check.status === 'not-run') err(`caffe-fold compare: could not compare: ${check.reason}`);
  else if (check.status === 'different') err(`caffe-fold compare: the outputs differ: ${check.reason}`);
  return { code: check.status === 'equal' ? 0 : check.status === 'different' ? 1 : 2, check };
}

function summaryOfAnalysis(chains: number, refusals: { layer: string; reason: string }[]): string {
  return [`${chains} chain(s) can fold; ${refusals.length} BatchNorm(s) cannot:`, ...refusals.map((r) => `  "${r.layer}": ${r.reason}`)].join('\n');
}

/** The structural proof's line: what it checked, in a person's words. */
function structureLine(r: FoldReport): string {
  const s = r.structure;
  return `structure proven: the folded net wires the same values as the original (${s.layers} layers, ${s.reads} reads and writes by blob version, ${s.outputs.length} net output(s) the same)`;
}

export function reportJson(r: FoldReport, opts: Pick<CliOptions, 'model' | 'weights' | 'zeroFactor' | 'skip'>) {
  return {
    model: opts.model,
    weights: opts.weights,
    zeroFactor: opts.zeroFactor,
    skip: opts.skip,
    layers: r.layers,
    removedLayers: r.removedLayers,
    structure: r.structure,
    chains: r.chains.map((c) => ({
      id: c.id,
      pattern: c.pattern,
      label: c.label,
      layers: c.layers,
      removed: c.removed,
      outputTop: c.outputTop,
      ...(c.moveTo ? { moveTo: c.moveTo } : {}),
      maxAbsError: c.proof.maxAbsError,
      maxRelError: c.proof.maxRelError,
      alphaRange: [c.stats.alphaMin, c.stats.alphaMax],
      tinyVarianceChannels: c.stats.tinyVariance,
    })),
    refusals: r.refusals,
    warnings: r.warnings,
  };
}

const isMain = process.argv[1] && /fold\.(ts|js|mjs)$/.test(process.argv[1]);
if (isMain) {
  runCli(process.argv.slice(2)).then(
    (r) => {
      process.exitCode = r.code;
    },
    (e) => {
      process.stderr.write(`caffe-fold: internal error (please report it): ${(e as Error).stack ?? e}\n`);
      process.exitCode = 70;
    },
  );
}
