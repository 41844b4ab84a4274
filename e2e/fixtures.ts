/** Test inputs for the e2e: paths relative to the repo root, weights generated once into .cache/. */
import type { Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = resolve(ROOT, '../shared');
export const CACHE = join(ROOT, '.cache', 'e2e');
export const SHARED_MISSING = !existsSync(join(SHARED, 'corpus', 'prototxt'));
export const SHARED_SKIP_MESSAGE = `../shared (expected at ${SHARED}) is absent: skipping the tests that need its corpus and weight generator`;
// Under CI (CI=true) nothing may skip: a missing ../shared fails the run here, with the reason.
if (SHARED_MISSING && process.env.CI && process.env.CI !== 'false') {
  throw new Error(
    `${SHARED_SKIP_MESSAGE.replace(': skipping', '; under CI the e2e tests need it —')} (put the shared folder beside the checkout)`,
  );
}

export const R50_PROTOTXT = join(SHARED, 'corpus', 'prototxt', 'resnet50_deploy.prototxt');

/** ResNet-50 weights from the oracle's generator (seed 1, not calibrated), cached. */
export function resnet50Weights(): string {
  const out = join(CACHE, 'resnet50_seed1.caffemodel');
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  execFileSync(
    '/usr/bin/python3',
    [join(SHARED, 'tools', 'caffe-oracle', 'gen.py'), R50_PROTOTXT, out, '--seed', '1', '--no-calibrate'],
    {
      stdio: 'pipe',
      timeout: 300_000,
    },
  );
  return out;
}

/** MobileNet v2 weights from the oracle's generator (seed 1, not calibrated), cached. */
export function mobilenetV2Weights(): string {
  const out = join(CACHE, 'mobilenet_v2_seed1.caffemodel');
  if (existsSync(out)) return out;
  mkdirSync(CACHE, { recursive: true });
  execFileSync(
    '/usr/bin/python3',
    [
      join(SHARED, 'tools', 'caffe-oracle', 'gen.py'),
      join(SHARED, 'corpus', 'prototxt', 'mobilenet_v2_deploy.prototxt'),
      out,
      '--seed',
      '1',
      '--no-calibrate',
    ],
    {
      stdio: 'pipe',
      timeout: 300_000,
    },
  );
  return out;
}

/** What the CLI writes for the same input (the reference for the browser's downloads), cached per input. */
export function cliFold(prototxt: string, weights: string, tag: string): { prototxt: string; caffemodel: string } {
  const dir = join(CACHE, `cli-${tag}`);
  mkdirSync(dir, { recursive: true });
  const o = { prototxt: join(dir, 'out.prototxt'), caffemodel: join(dir, 'out.caffemodel') };
  execFileSync(
    'npx',
    [
      'tsx',
      'src/cli/fold.ts',
      '--model',
      prototxt,
      '--weights',
      weights,
      '--output_model',
      o.prototxt,
      '--output_weights',
      o.caffemodel,
      '--quiet',
    ],
    {
      cwd: ROOT,
      stdio: 'pipe',
      timeout: 300_000,
    },
  );
  return o;
}

/** A real 1×1 PNG. */
export const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

export interface DropFile {
  name: string;
  body: Buffer;
}

const CHUNK = 4 * 1024 * 1024;

/** Build a DataTransfer in the page from the files' bytes (sent in base64 chunks) and drop it on the drop zone. */
export async function dropFiles(page: Page, files: DropFile[], target = '[data-testid="drop-zone"]') {
  await page.evaluate(() => ((window as unknown as { __e2e: Record<string, Uint8Array[]> }).__e2e = {}));
  for (const f of files) {
    for (let at = 0; at < f.body.length || at === 0; at += CHUNK) {
      const b64 = f.body.subarray(at, at + CHUNK).toString('base64');
      await page.evaluate(
        ([name, data]) => {
          const store = (window as unknown as { __e2e: Record<string, Uint8Array[]> }).__e2e;
          const bin = atob(data);
          const bytes = new Uint8Array(bin.length);
          for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
          (store[name] ??= []).push(bytes);
        },
        [f.name, b64] as const,
      );
      if (f.body.length === 0) break;
    }
  }
  const dt = await page.evaluateHandle(
    (names: string[]) => {
      const store = (window as unknown as { __e2e: Record<string, Uint8Array<ArrayBuffer>[]> }).__e2e;
      const dt = new DataTransfer();
      for (const name of names) dt.items.add(new File(store[name] ?? [], name));
      delete (window as unknown as { __e2e?: unknown }).__e2e;
      return dt;
    },
    files.map((f) => f.name),
  );
  await page.dispatchEvent(target, 'dragenter', { dataTransfer: dt });
  await page.dispatchEvent(target, 'dragover', { dataTransfer: dt });
  await page.dispatchEvent(target, 'drop', { dataTransfer: dt });
}

export async function downloadBytes(page: Page, button: string): Promise<{ name: string; bytes: Buffer }> {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: button }).click(),
  ]);
  const path = await download.path();
  return { name: download.suggestedFilename(), bytes: readFileSync(path) };
}
