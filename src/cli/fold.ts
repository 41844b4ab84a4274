#!/usr/bin/env node
/**
 * caffe-fold CLI: fold BatchNorm/Scale chains of a Caffe model.
 *   npm run fold -- --model M.prototxt --weights W.caffemodel [--output_model O.prototxt] [--output_weights O.caffemodel]
 *                   [--report R.json] [--dry-run] [--skip LAYER ...] [--zero-factor caffe|one] [--allow-missing-weights]
 * Flag names of the classic pycaffe merge script (underscore and dash forms).
 */
import { closeSync, openSync, readFileSync, realpathSync, statSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CaffeFoldError, isCaffeFoldError } from '../core/errors';
import { MAX_FILE_BYTES, foldLoaded, loadFiles, outputNames, type FoldReport } from '../core/pipeline';

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
  --quiet, -q                 print only errors
  --help, -h                  this text`;

export function parseArgs(argv: string[]): CliOptions {
  const o: Partial<CliOptions> & { skip: string[] } = { skip: [], dryRun: false, zeroFactor: 'caffe', quiet: false, allowMissingWeights: false };
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

function samePath(a: string, b: string): boolean {
  const r = (p: string) => (existsSync(p) ? realpathSync(p) : resolve(p));
  return r(a) === r(b);
}

export interface CliResult {
  code: number;
  report?: FoldReport;
}

export function runCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): CliResult {
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
    const read = (p: string): Uint8Array => {
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
    };
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
    for (const c of r.chains) log(`  ${c.label.padEnd(18)} ${c.layers.join(' → ')}   max rel. error ${c.proof.maxRelError.toExponential(1)}`);
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
    if (opts.report) {
      writeFileSync(opts.report, JSON.stringify(reportJson(r, opts), null, 2) + '\n');
      log(`wrote ${opts.report}`);
    }
    return { code: 0, report: r };
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

function summaryOfAnalysis(chains: number, refusals: { layer: string; reason: string }[]): string {
  return [`${chains} chain(s) can fold; ${refusals.length} BatchNorm(s) cannot:`, ...refusals.map((r) => `  "${r.layer}": ${r.reason}`)].join('\n');
}

export function reportJson(r: FoldReport, opts: Pick<CliOptions, 'model' | 'weights' | 'zeroFactor' | 'skip'>) {
  return {
    model: opts.model,
    weights: opts.weights,
    zeroFactor: opts.zeroFactor,
    skip: opts.skip,
    layers: r.layers,
    removedLayers: r.removedLayers,
    chains: r.chains.map((c) => ({
      id: c.id,
      pattern: c.pattern,
      label: c.label,
      layers: c.layers,
      removed: c.removed,
      outputTop: c.outputTop,
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
  try {
    process.exitCode = runCli(process.argv.slice(2)).code;
  } catch (e) {
    process.stderr.write(`caffe-fold: internal error (please report it): ${(e as Error).stack ?? e}\n`);
    process.exitCode = 70;
  }
}
