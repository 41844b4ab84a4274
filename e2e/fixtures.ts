/** Test inputs for the e2e: paths relative to the repo root, weights generated once into .cache/. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = resolve(ROOT, '../shared');
export const CACHE = join(ROOT, '.cache', 'e2e');
export const SHARED_MISSING = !existsSync(join(SHARED, 'corpus', 'prototxt'));
export const SHARED_SKIP_MESSAGE = `../shared (expected at ${SHARED}) is absent: skipping the tests that need its corpus and weight generator`;

export const R50_PROTOTXT = join(SHARED, 'corpus', 'prototxt', 'resnet50_deploy.prototxt');

/** ResNet-50 weights from the oracle's generator (seed 1, not calibrated), cached. */
export function resnet50Weights(): string {
  const out = join(CACHE, 'resnet50_seed1.caffemodel');
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  execFileSync('/usr/bin/python3', [join(SHARED, 'tools', 'caffe-oracle', 'gen.py'), R50_PROTOTXT, out, '--seed', '1', '--no-calibrate'], {
    stdio: 'pipe',
    timeout: 300_000,
  });
  return out;
}

/** What the CLI writes for the same input (the reference for the browser's downloads), cached per input. */
export function cliFold(prototxt: string, weights: string, tag: string): { prototxt: string; caffemodel: string } {
  const dir = join(CACHE, `cli-${tag}`);
  mkdirSync(dir, { recursive: true });
  const o = { prototxt: join(dir, 'out.prototxt'), caffemodel: join(dir, 'out.caffemodel') };
  execFileSync('npx', ['tsx', 'src/cli/fold.ts', '--model', prototxt, '--weights', weights, '--output_model', o.prototxt, '--output_weights', o.caffemodel, '--quiet'], {
    cwd: ROOT,
    stdio: 'pipe',
    timeout: 300_000,
  });
  return o;
}

/** A real 1×1 PNG. */
export const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);
