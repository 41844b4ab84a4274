/**
 * Privacy: during a whole session (load, open the sample pair, fold, download all three) no request leaves the
 * app's origin — not from the page, not from its worker, not from the service worker — and the Content-Security-
 * Policy forbids it anyway, in the page and in the worker.
 */
import { test, expect, type Page } from '@playwright/test';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, downloadBytes } from './fixtures';

const SAMPLE_PROTOTXT = join(ROOT, 'public', 'sample', 'sample.prototxt');
const SAMPLE_CAFFEMODEL = join(ROOT, 'public', 'sample', 'sample.caffemodel');
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** Every directive the built app's policy must have, with exactly these sources. */
const REQUIRED: Record<string, string[]> = {
  'default-src': ["'self'"],
  'script-src': ["'self'"],
  'connect-src': ["'self'"],
  'font-src': ["'self'"],
  'object-src': ["'none'"],
};

function parseCsp(policy: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const part of policy.split(';')) {
    const [name, ...sources] = part.trim().split(/\s+/);
    if (name) m.set(name.toLowerCase(), sources);
  }
  return m;
}

function checkPolicy(policy: string | null | undefined) {
  expect(policy, 'a Content-Security-Policy is set').toBeTruthy();
  const csp = parseCsp(policy!);
  for (const [name, sources] of Object.entries(REQUIRED)) expect(csp.get(name), name).toEqual(sources);
  // Images: this origin and in-page data/blob URLs only; workers: this origin (and blob: at most).
  for (const s of csp.get('img-src') ?? []) expect(["'self'", 'data:', 'blob:']).toContain(s);
  for (const s of csp.get('worker-src') ?? ["'self'"]) expect(["'self'", 'blob:']).toContain(s);
  expect(policy).not.toMatch(/https?:|\*|unsafe-eval/);
}

async function violations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __csp: string[] }).__csp);
}

test('no request leaves the origin during a whole session, and the policy forbids it', async ({
  page,
  context,
  baseURL,
}) => {
  const origin = new URL(baseURL!).origin;
  const inputsBefore = [sha256(SAMPLE_PROTOTXT), sha256(SAMPLE_CAFFEMODEL)];
  const fromPage: string[] = [];
  const fromContext: { url: string; by: string }[] = [];
  const routed: string[] = [];
  const blockedOutside: string[] = [];
  const errors: string[] = [];
  page.on('request', (r) => fromPage.push(r.url()));
  // The context sees the worker's and the service worker's requests too.
  context.on('request', (r) =>
    fromContext.push({ url: r.url(), by: r.serviceWorker() ? 'service worker' : 'page or worker' }),
  );
  // Anything that would reach the network is routed here first; outside the origin it is recorded and aborted.
  await context.route('**', (route) => {
    const url = route.request().url();
    routed.push(url);
    if (new URL(url).origin !== origin) {
      blockedOutside.push(url);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  await page.addInitScript(() => {
    const w = window as unknown as { __csp: string[] };
    w.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      w.__csp.push(`${e.effectiveDirective} ${e.blockedURI}`),
    );
  });

  const res = await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();

  // The policy: in the page (meta), and as a header, which also governs the worker and the service worker.
  checkPolicy(await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content'));
  checkPolicy(res!.headers()['content-security-policy']);

  // Open the bundled pair through the file input, fold, download all three.
  await page.locator('input[type=file]').setInputFiles([SAMPLE_PROTOTXT, SAMPLE_CAFFEMODEL]);
  await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
  await page.getByRole('button', { name: 'Fold 7 chains' }).click();
  await expect(page.getByText('✓ Folded')).toBeVisible({ timeout: 60_000 });
  // The whole-net check runs (OpenCV DNN in WebAssembly, fetched from this origin by its own worker).
  await expect(page.getByTestId('whole-net-check')).toHaveAttribute('data-status', 'equal', { timeout: 90_000 });
  const proto = await downloadBytes(page, 'Download sample_inference.prototxt');
  const model = await downloadBytes(page, 'Download sample_inference.caffemodel');
  const zip = await downloadBytes(page, 'Download both as a .zip');
  // Downloads are new files; the inputs are untouched.
  expect([proto.name, model.name, zip.name]).toEqual([
    'sample_inference.prototxt',
    'sample_inference.caffemodel',
    'sample_inference.zip',
  ]);
  expect(proto.bytes.equals(readFileSync(SAMPLE_PROTOTXT))).toBe(false);
  expect(model.bytes.equals(readFileSync(SAMPLE_CAFFEMODEL))).toBe(false);
  expect([sha256(SAMPLE_PROTOTXT), sha256(SAMPLE_CAFFEMODEL)]).toEqual(inputsBefore);

  // The worker runs under the header policy: a request to another origin from inside it is refused.
  const worker = page.workers().find((w) => /\/assets\/worker[^/]*\.js/.test(w.url()));
  expect(
    worker,
    `the fold worker (workers: ${page
      .workers()
      .map((w) => w.url())
      .join(', ')})`,
  ).toBeTruthy();
  const fromWorker = await worker!.evaluate(() =>
    fetch('https://example.com/caffe-fold-leak').then(
      () => 'sent',
      (e: unknown) => `refused: ${String(e)}`,
    ),
  );
  expect(fromWorker).toMatch(/^refused/);
  // The check worker runs under a policy of its own (its script's header): eval and wasm allowed, for opencv.js,
  // and still no connection outside this origin.
  const checkWorker = page.workers().find((w) => /\/assets\/check-worker-[^/]*\.js/.test(w.url()));
  expect(
    checkWorker,
    `the check worker (workers: ${page
      .workers()
      .map((w) => w.url())
      .join(', ')})`,
  ).toBeTruthy();
  const checkWorkerPolicy = (await page.request.get(checkWorker!.url())).headers()['content-security-policy'];
  const cp = parseCsp(checkWorkerPolicy ?? '');
  expect(cp.get('connect-src')).toEqual(["'self'"]);
  expect(cp.get('default-src')).toEqual(["'self'"]);
  expect(cp.get('script-src')).toEqual(["'self'", "'unsafe-eval'", "'wasm-unsafe-eval'"]);
  const fromCheckWorker = await checkWorker!.evaluate(() =>
    fetch('https://example.com/caffe-fold-leak').then(
      () => 'sent',
      (e: unknown) => `refused: ${String(e)}`,
    ),
  );
  expect(fromCheckWorker).toMatch(/^refused/);
  // And from the page.
  const fromMain = await page.evaluate(() =>
    fetch('https://example.com/caffe-fold-leak').then(
      () => 'sent',
      (e: unknown) => `refused: ${String(e)}`,
    ),
  );
  expect(fromMain).toMatch(/^refused/);
  await expect
    .poll(() => violations(page))
    .toContainEqual(expect.stringMatching(/^connect-src https:\/\/example\.com/));

  const all = [...fromPage, ...fromContext.map((r) => r.url), ...routed];
  const outside = all.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:'));
  // The recording works: the page, its script and styles, the worker's script, the service worker's precache.
  expect(fromPage.some((u) => u.startsWith(origin + '/assets/index-'))).toBe(true);
  expect(fromContext.some((r) => /\/assets\/worker[^/]*\.js$/.test(r.url))).toBe(true);
  console.log(
    `[privacy] ${fromContext.length} requests seen (${fromContext.filter((r) => r.by === 'service worker').length} by the service worker), ${routed.length} reached the network`,
  );
  // The two probes above were stopped by the policy before any request was made.
  expect(blockedOutside).toEqual([]);
  expect(outside).toEqual([]);
  // Apart from the probes, the app itself broke no rule of its policy, and logged no error.
  expect((await violations(page)).filter((v) => !v.includes('example.com'))).toEqual([]);
  expect(
    errors.filter((e) => !e.includes('example.com') && !/Content Security Policy|Failed to fetch/.test(e)),
  ).toEqual([]);
});
