/**
 * Helpers for tests that use ../shared: the corpus and the independent caffe-oracle (OpenCV DNN).
 * Everything generated is cached under .cache/ (git-ignored).
 */
import { fileURLToPath } from 'node:url';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const SHARED = resolve(ROOT, '..', 'shared');
export const CORPUS = join(SHARED, 'corpus', 'prototxt');
export const ORACLE = join(SHARED, 'tools', 'caffe-oracle');
export const CACHE = join(ROOT, '.cache', 'oracle');
export const PYTHON = process.env.CAFFE_FOLD_PYTHON ?? '/usr/bin/python3';

export const haveCorpus = existsSync(CORPUS);
export const haveOracle =
  existsSync(join(ORACLE, 'oracle.py')) &&
  spawnSync(PYTHON, ['-c', 'import cv2, numpy'], { stdio: 'ignore' }).status === 0;

/** Under CI (CI=true) nothing may skip: a missing ../shared or OpenCV fails the run instead. */
export const REQUIRED = !!process.env.CI && process.env.CI !== 'false';

if (!haveCorpus) {
  const what = `[caffe-fold tests] ${CORPUS} is absent`;
  if (REQUIRED)
    throw new Error(
      `${what}: under CI the corpus tests must run — put the shared folder beside the checkout (../shared)`,
    );
  console.warn(`${what}: the corpus tests are skipped (everything else runs).`);
} else if (!haveOracle) {
  const what = `[caffe-fold tests] the caffe-oracle (${ORACLE}) or ${PYTHON} with python3-opencv/numpy is missing`;
  if (REQUIRED)
    throw new Error(
      `${what}: under CI the OpenCV cross-checks must run — apt-get install python3-opencv python3-numpy`,
    );
  console.warn(`${what}: the OpenCV cross-checks are skipped.`);
}

/** Input shapes for nets whose inputs are data layers (train/val nets). */
export const INPUT_SHAPES: Record<string, string> = {
  cifar10_full_sigmoid_train_test_bn: '1,3,32,32',
  resnet18_train_val: '1,3,224,224',
  mobilenet_ssd_train: '1,3,300,300',
};

/** A caffemodel with random, realistic weights for a corpus net, made once by the oracle's gen.py. */
export function corpusWeights(name: string, extra: string[] = [], tag = ''): string {
  mkdirSync(CACHE, { recursive: true });
  const out = join(CACHE, `${name}${tag}.caffemodel`);
  if (existsSync(out) && statSync(out).size > 0) return out;
  const args = [join(ORACLE, 'gen.py'), join(CORPUS, `${name}.prototxt`), out, '--seed', '1', ...extra];
  if (INPUT_SHAPES[name]) args.push('--input-shape', INPUT_SHAPES[name]);
  execFileSync(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 26 });
  return out;
}

export interface OracleResult {
  ok: boolean;
  worst_rel: number;
  /** The error of the oracle's own float64 reference fold: the float32 noise this net amplifies. */
  noise_floor?: number | null;
  local?: { failed?: unknown[]; worst_rel?: number };
  error?: string;
  [k: string]: unknown;
}

export function runOracle(
  original: [string, string],
  folded: [string, string],
  inputShape?: string,
  extra: string[] = [],
): OracleResult {
  const args = [join(ORACLE, 'oracle.py'), '--original', ...original, '--folded', ...folded, ...extra];
  if (inputShape) args.push('--input-shape', inputShape);
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as OracleResult;
  } catch {
    throw new Error(`oracle.py printed no JSON (exit ${r.status}): ${r.stdout}\n${r.stderr}`);
  }
}

export const readBytes = (p: string) => new Uint8Array(readFileSync(p));
