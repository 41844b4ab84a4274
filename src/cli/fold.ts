#!/usr/bin/env node
/**
 * caffe-fold CLI: fold BatchNorm/Scale chains of a Caffe model.
 *   npm run fold -- --model M.prototxt --weights W.caffemodel [--output_model O.prototxt] [--output_weights O.caffemodel]
 *                   [--report R.json] [--dry-run] [--skip LAYER ...] [--zero-factor caffe|one] [--allow-missing-weights] [--verify]
 *   npm run fold -- compare --model A.prototxt --weights A.caffemodel --against B.prototxt B.caffemodel
 * Flag names of the classic pycaffe merge script (underscore and dash forms).
 */
import {
  closeSync,
  openSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
  writeSync,
  existsSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  CaffeFoldError,
  caffeError,
  checkFileSize,
  isCaffeFoldError,
  type ErrorParams,
  type UsageCode,
} from '../core/errors';
import { foldLoaded, loadFiles, outputNames, type FoldReport, type FoldResult } from '../core/pipeline';
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

/** A bad command line: the CLI prints the message and its usage, and exits 2. */
export class UsageError<C extends UsageCode = UsageCode> extends CaffeFoldError<C> {
  override name = 'UsageError';
  constructor(code: C, params: ErrorParams<C>) {
    super(code, params);
  }
}

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

/** Reads argv flag by flag: `--flag value`, `--flag=value`, `-f value`; names with `-` or `_` alike. */
class ArgReader {
  private i = -1;
  /** The flag as given, without an inline `=value`. */
  flag = '';
  /** A value given inline (`--against=x`); undefined when the value, if any, follows as its own argument. */
  inline: string | undefined;
  constructor(private readonly argv: string[]) {}

  /** The next flag's name (`output_model`), or undefined at the end. */
  next(): string | undefined {
    if (++this.i >= this.argv.length) return undefined;
    const a = this.argv[this.i];
    const eq = a.indexOf('=');
    const split = a.startsWith('--') && eq > 0;
    this.flag = split ? a.slice(0, eq) : a;
    this.inline = split ? a.slice(eq + 1) : undefined;
    return this.flag.replace(/^--?/, '').replace(/-/g, '_');
  }

  /** The whole argument, as given (for messages). */
  get arg(): string {
    return this.argv[this.i];
  }

  value(): string {
    const v = this.inline ?? this.argv[++this.i];
    if (v === undefined || (this.inline === undefined && v.startsWith('--')))
      throw new UsageError('usage-needs-value', { flag: this.flag });
    return v;
  }

  count(): number {
    const v = this.value();
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n))
      throw new UsageError('usage-not-a-count', { flag: this.flag, value: v });
    return n;
  }

  /** The arguments after the flag up to the next flag (`--skip a b c`), or the inline value split at commas. */
  list(): string[] {
    if (this.inline !== undefined) return this.inline.split(',').filter(Boolean);
    const items: string[] = [];
    while (this.i + 1 < this.argv.length && !this.argv[this.i + 1].startsWith('-'))
      items.push(...this.argv[++this.i].split(',').filter(Boolean));
    return items;
  }

  /** The next argument as it is (the second file of `--against`), or undefined if there is none or it is a flag. */
  positional(): string | undefined {
    const v = this.argv[this.i + 1];
    if (v === undefined || v.startsWith('--')) return undefined;
    this.i++;
    return v;
  }
}

/** The fold's options from argv, or 'help' for --help. */
export function parseArgs(argv: string[]): CliOptions | 'help' {
  const o: Partial<CliOptions> & { skip: string[] } = {
    skip: [],
    dryRun: false,
    zeroFactor: 'caffe',
    quiet: false,
    allowMissingWeights: false,
    verify: false,
    seed: 1,
    timingRuns: 5,
  };
  const args = new ArgReader(argv);
  for (let key = args.next(); key !== undefined; key = args.next()) {
    if (key === 'help' || key === 'h') return 'help';
    foldFlag(o, key, args);
  }
  if (!o.model) throw new UsageError('usage-model-required', {});
  return o as CliOptions;
}

/** One flag of the fold into the options. */
function foldFlag(o: Partial<CliOptions> & { skip: string[] }, key: string, args: ArgReader): void {
  switch (key) {
    case 'model':
    case 'm':
      o.model = args.value();
      return;
    case 'weights':
    case 'w':
      o.weights = args.value();
      return;
    case 'output_model':
      o.outputModel = args.value();
      return;
    case 'output_weights':
      o.outputWeights = args.value();
      return;
    case 'report':
      o.report = args.value();
      return;
    case 'dry_run':
      o.dryRun = true;
      return;
    case 'allow_missing_weights':
      o.allowMissingWeights = true;
      return;
    case 'quiet':
    case 'q':
      o.quiet = true;
      return;
    case 'skip': {
      const names = args.list();
      if (names.length === 0 && args.inline === undefined) throw new UsageError('usage-skip-empty', {});
      o.skip.push(...names);
      return;
    }
    case 'zero_factor': {
      const v = args.value();
      if (v !== 'caffe' && v !== 'one') throw new UsageError('usage-zero-factor', { value: v });
      o.zeroFactor = v;
      return;
    }
    case 'verify':
      o.verify = true;
      return;
    case 'seed':
      o.seed = args.count();
      return;
    case 'timing_runs':
      o.timingRuns = args.count();
      return;
    default:
      throw new UsageError('usage-unknown-option', { option: args.arg });
  }
}

/** compare's options from argv (after `compare`), or 'help' for --help. */
export function parseCompareArgs(argv: string[]): CompareCliOptions | 'help' {
  const o: Partial<CompareCliOptions> = { seed: 1, timingRuns: 5, quiet: false };
  const args = new ArgReader(argv);
  for (let key = args.next(); key !== undefined; key = args.next()) {
    switch (key) {
      case 'model':
      case 'm':
        o.model = args.value();
        break;
      case 'weights':
      case 'w':
        o.weights = args.value();
        break;
      case 'against': {
        const inline = args.inline !== undefined;
        const p = args.value();
        const w = inline ? undefined : args.positional();
        if (w === undefined) throw new UsageError('usage-against-two-files', {});
        o.against = [p, w];
        break;
      }
      case 'report':
        o.report = args.value();
        break;
      case 'seed':
        o.seed = args.count();
        break;
      case 'timing_runs':
        o.timingRuns = args.count();
        break;
      case 'quiet':
      case 'q':
        o.quiet = true;
        break;
      case 'help':
      case 'h':
        return 'help';
      default:
        throw new UsageError('usage-unknown-option', { option: args.arg });
    }
  }
  if (!o.model || !o.weights) throw new UsageError('usage-compare-model', {});
  if (!o.against) throw new UsageError('usage-compare-against', {});
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

/** Why a file cannot be read or written, in a person's words where Node's code says it plainly. */
function ioReason(e: unknown, writing: boolean): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return writing ? 'its folder does not exist' : 'there is no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a folder';
    default:
      return (e as Error).message;
  }
}

/** Read a whole input file, refusing one over 2 GB before reading it; errors say which file and why. */
function readInput(p: string): Uint8Array {
  let size: number;
  try {
    size = statSync(p).size;
  } catch (e) {
    throw caffeError('file-unreadable', { reason: ioReason(e, false) }, { kind: 'file', file: p });
  }
  checkFileSize(p, size);
  try {
    // A Buffer is a Uint8Array: no copy.
    return readFileSync(p);
  } catch (e) {
    throw caffeError('file-unreadable', { reason: ioReason(e, false) }, { kind: 'file', file: p });
  }
}

const input = (p: string) => ({ name: basename(p), bytes: readInput(p) });

/** Write an output file (text, or chunks one after another); errors say which file and why. */
function writeOutput(p: string, data: string | Uint8Array[]): void {
  try {
    if (typeof data === 'string') return writeFileSync(p, data);
    const fd = openSync(p, 'w');
    try {
      for (const c of data) writeSync(fd, c);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw caffeError('file-unwritable', { reason: ioReason(e, true) }, { kind: 'file', file: p });
  }
}

let engine: Promise<Engine> | undefined;
/** The check's engine, loaded once per process (opencv.js takes about a second to start). */
const theEngine = () => (engine ??= openCvEngine());

type Print = (s: string) => void;
const stdout: Print = (s) => process.stdout.write(s + '\n');
const stderr: Print = (s) => process.stderr.write(s + '\n');

/** Parse argv, or print the usage: the options, or the exit code when there is nothing more to do. */
function parseOrUsage<T extends object>(parse: () => T | 'help', prog: string, out: Print, err: Print): T | number {
  try {
    const o = parse();
    if (o !== 'help') return o;
    out(USAGE);
    return 0;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(`${prog}: ${e.message}\n`);
    err(USAGE);
    return 2;
  }
}

export async function runCli(argv: string[], out: Print = stdout, err: Print = stderr): Promise<CliResult> {
  if (argv[0] === 'compare') return runCompare(argv.slice(1), out, err);
  const opts = parseOrUsage(() => parseArgs(argv), 'caffe-fold', out, err);
  if (typeof opts === 'number') return { code: opts };
  const log = opts.quiet ? () => {} : out;
  try {
    return opts.weights ? await fold(opts, opts.weights, log, err) : analyseOnly(opts, log, err);
  } catch (e) {
    // The user's files or paths (a bad file, one that cannot be read or written, an output that is an input):
    // exit 1 with what, where and what to do. Anything else is a bug (exit 70, in main below).
    if (!isCaffeFoldError(e)) throw e;
    err(`caffe-fold: ${e.message}`);
    return { code: 1 };
  }
}

/** No weights: the structure's analysis only. */
function analyseOnly(opts: CliOptions, log: Print, err: Print): CliResult {
  const loaded = loadFiles(input(opts.model), undefined, {
    zeroFactor: opts.zeroFactor,
    allowMissingWeights: opts.allowMissingWeights,
  });
  log(summaryOfAnalysis(loaded.analysis.chains.length, loaded.analysis.refusals));
  err('caffe-fold: no --weights given: analysed the structure only; give the .caffemodel to fold.');
  return { code: opts.dryRun ? 0 : 2 };
}

/** Where the folded pair goes (beside the inputs by default); an output that is an input is refused. */
function outputPaths(opts: CliOptions, weights: string): { model: string; weights: string } {
  const names = outputNames(opts.model, weights);
  const out = {
    model: opts.outputModel ?? join(dirname(opts.model), names.prototxt),
    weights: opts.outputWeights ?? join(dirname(weights), names.caffemodel),
  };
  for (const [o, flag] of [
    [out.model, '--output_model'],
    [out.weights, '--output_weights'],
  ] as const) {
    if (samePath(o, opts.model) || samePath(o, weights))
      throw caffeError('output-is-input', { flag }, { kind: 'file', file: o });
  }
  return out;
}

/** Read, fold, write, check (--verify), report. */
async function fold(opts: CliOptions, weights: string, log: Print, err: Print): Promise<CliResult> {
  const outputs = outputPaths(opts, weights);
  const loaded = loadFiles(input(opts.model), input(weights), {
    zeroFactor: opts.zeroFactor,
    allowMissingWeights: opts.allowMissingWeights,
  });
  // In place: the weights are folded in the bytes read from the file (ours; the file itself is never written).
  const result = foldLoaded(loaded, { skip: opts.skip, zeroFactor: opts.zeroFactor, inPlace: true });
  const r = result.report;
  for (const line of foldLines(r, opts.model)) log(line);
  if (!opts.dryRun) {
    writeOutput(outputs.model, result.prototxt.text);
    writeOutput(outputs.weights, result.caffemodel.chunks);
    log(`wrote ${outputs.model}\nwrote ${outputs.weights}`);
  } else log('dry run: nothing written');
  const check = opts.verify ? await verify(opts, weights, result, outputs, log, err) : undefined;
  if (opts.report) {
    writeOutput(opts.report, JSON.stringify({ ...reportJson(r, opts), ...(check ? { check } : {}) }, null, 2) + '\n');
    log(`wrote ${opts.report}`);
  }
  if (check?.status === 'different') {
    err(`caffe-fold: the folded net's outputs differ from the original's: ${check.reason}`);
    return { code: 1, report: r, check };
  }
  return { code: 0, report: r, check };
}

/** The fold as printed: the layer counts, the chains folded with their proofs, the structure, the refusals, the warnings. */
function foldLines(r: FoldReport, model: string): string[] {
  const refused = r.refusals.filter((x) => x.code !== 'skipped');
  const skipped = r.refusals.filter((x) => x.code === 'skipped');
  return [
    `${model}: ${r.layers.before} layers → ${r.layers.after} (${r.removedLayers.length} removed)`,
    `folded ${r.chains.length} chain(s):`,
    ...r.chains.map(
      (c) =>
        `  ${c.label.padEnd(18)} ${c.layers.join(' → ')}   max rel. error ${c.proof.maxRelError.toExponential(1)}${c.moveTo ? `   (placed at "${c.moveTo}")` : ''}`,
    ),
    structureLine(r),
    ...(skipped.length ? [`left on request: ${skipped.map((s) => s.layer).join(', ')}`] : []),
    `not folded: ${refused.length}`,
    ...refused.map((x) => `  ${x.type} "${x.layer}": ${x.reason}`),
    ...r.warnings.map((w) => `warning: ${w.layer ? `"${w.layer}": ` : ''}${w.message}`),
  ];
}

/** --verify: the original and the folded net in OpenCV DNN on the same input. */
async function verify(
  opts: CliOptions,
  weights: string,
  result: FoldResult,
  outputs: { model: string; weights: string },
  log: Print,
  err: Print,
): Promise<WholeNetCheck> {
  // The fold wrote over the weights it read (in place): the original is read again from its file, which is
  // never written. The folded pair is the one written, or with --dry-run the one in memory.
  const original = { prototxt: readInput(opts.model), caffemodel: readInput(weights), name: basename(opts.model) };
  const folded = opts.dryRun
    ? {
        prototxt: new TextEncoder().encode(result.prototxt.text),
        caffemodel: concat(result.caffemodel.chunks),
        name: result.prototxt.name,
      }
    : { prototxt: readInput(outputs.model), caffemodel: readInput(outputs.weights), name: basename(outputs.model) };
  const check = compareModels(await theEngine(), original, folded, { seed: opts.seed, timingRuns: opts.timingRuns });
  for (const line of checkTable(check)) log(line);
  if (check.status === 'not-run') err(`caffe-fold: warning: the whole-net check did not run: ${check.reason}`);
  return check;
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
  const lines = [
    `whole-net check in ${c.engine}, seed ${c.seed}, input ${c.inputs.map((i) => `${i.name} [${i.shape.join(', ')}]`).join(', ') || '—'}: ${c.status === 'equal' ? 'EQUAL' : c.status === 'different' ? 'DIFFERENT' : 'NOT RUN'}`,
  ];
  if (c.outputs.length) {
    const rows = [
      ['output', 'shape', 'max abs', 'max rel', 'threshold', 'pass'],
      ...c.outputs.map((o) => [
        o.name,
        `[${o.shape.join(', ')}]`,
        exp(o.maxAbsError),
        exp(o.maxRelError),
        exp(o.threshold),
        o.pass ? 'yes' : 'NO',
      ]),
    ];
    const w = rows[0].map((_, k) => Math.max(...rows.map((r) => r[k].length)));
    for (const r of rows)
      lines.push(
        '  ' +
          r
            .map((x, k) => x.padEnd(w[k]))
            .join('  ')
            .trimEnd(),
      );
    lines.push(
      `  noise ${exp(c.noise)} (the original against itself on a 1-ulp nudged input); threshold = max(${MIN_THRESHOLD.toExponential(0)}, ${NOISE_FACTOR} × the output's noise)`,
    );
  }
  for (const n of c.notes ?? []) lines.push(`  note: ${n}`);
  if (c.reason) lines.push(`  ${c.status === 'not-run' ? 'not run' : 'differs'}: ${c.reason}`);
  if (c.latency) {
    const l = c.latency;
    lines.push(
      `  latency (median of ${l.runs}, interleaved): original ${ms(l.originalMs)} ms, folded ${ms(l.foldedMs)} ms, ratio ${l.ratio.toFixed(2)}×`,
    );
  }
  return lines;
}

/** compare mode: exit 0 equal, 1 different, 2 could not compare (as cmp). */
async function runCompare(argv: string[], out: Print, err: Print): Promise<CliResult> {
  const opts = parseOrUsage(() => parseCompareArgs(argv), 'caffe-fold compare', out, err);
  if (typeof opts === 'number') return { code: opts };
  try {
    return await compare(opts, opts.quiet ? () => {} : out, err);
  } catch (e) {
    // A file that cannot be read, or is not a Caffe model: could not compare. Anything else is a bug.
    if (!isCaffeFoldError(e)) throw e;
    err(`caffe-fold compare: ${e.message}`);
    return { code: 2 };
  }
}

async function compare(opts: CompareCliOptions, log: Print, err: Print): Promise<CliResult> {
  const a = { prototxt: readInput(opts.model), caffemodel: readInput(opts.weights), name: basename(opts.model) };
  const b = {
    prototxt: readInput(opts.against[0]),
    caffemodel: readInput(opts.against[1]),
    name: basename(opts.against[0]),
  };
  const check = compareModels(await theEngine(), a, b, { seed: opts.seed, timingRuns: opts.timingRuns });
  for (const line of checkTable(check)) log(line);
  if (opts.report) {
    writeOutput(
      opts.report,
      JSON.stringify({ model: opts.model, weights: opts.weights, against: opts.against, check }, null, 2) + '\n',
    );
    log(`wrote ${opts.report}`);
  }
  if (check.status === 'not-run') err(`caffe-fold compare: could not compare: ${check.reason}`);
  else if (check.status === 'different') err(`caffe-fold compare: the outputs differ: ${check.reason}`);
  return { code: check.status === 'equal' ? 0 : check.status === 'different' ? 1 : 2, check };
}

function summaryOfAnalysis(chains: number, refusals: { layer: string; reason: string }[]): string {
  return [
    `${chains} chain(s) can fold; ${refusals.length} BatchNorm(s) cannot:`,
    ...refusals.map((r) => `  "${r.layer}": ${r.reason}`),
  ].join('\n');
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
