/**
 * Offline: after one visit the service worker holds every file of the build; with the network gone the app
 * loads, opens the sample, folds it and downloads both outputs — and the server is not asked for anything.
 */
import { test, expect } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, cliFold, downloadBytes, dropFiles } from './fixtures';

const SAMPLE_PROTOTXT = join(ROOT, 'public', 'sample', 'sample.prototxt');
const SAMPLE_CAFFEMODEL = join(ROOT, 'public', 'sample', 'sample.caffemodel');

test('the manifest makes the app installable: name, standalone, start_url, icons 192, 512 and SVG', async ({
  page,
  request,
}) => {
  await page.goto('/');
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBeTruthy();
  const url = new URL(href!, page.url());
  const res = await request.get(url.href);
  expect(res.ok()).toBe(true);
  const m = (await res.json()) as {
    name?: string;
    short_name?: string;
    start_url?: string;
    display?: string;
    theme_color?: string;
    background_color?: string;
    icons?: { src: string; sizes: string; type: string }[];
  };
  expect(m.name).toBeTruthy();
  expect(m.short_name).toBeTruthy();
  expect(m.start_url).toBeTruthy();
  expect(m.display).toBe('standalone');
  expect(m.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  expect(m.background_color).toMatch(/^#[0-9a-f]{6}$/i);
  const sizes = (m.icons ?? []).map((i) => i.sizes);
  expect(sizes).toEqual(expect.arrayContaining(['192x192', '512x512', 'any']));
  for (const icon of m.icons ?? []) {
    const r = await request.get(new URL(icon.src, url).href);
    expect(r.ok(), icon.src).toBe(true);
    const body = await r.body();
    if (icon.type === 'image/png') {
      // The PNG's own header says its size: width and height at bytes 16 and 20 of the IHDR chunk.
      expect(body.subarray(1, 4).toString('latin1')).toBe('PNG');
      const [w, h] = icon.sizes.split('x').map(Number);
      expect([body.readUInt32BE(16), body.readUInt32BE(20)]).toEqual([w, h]);
    } else {
      expect(icon.type).toBe('image/svg+xml');
      expect(body.toString('utf8')).toContain('<svg');
    }
  }
});

test('offline after one visit: the app loads, folds the sample and downloads both files', async ({ page, context }) => {
  const reference = cliFold(SAMPLE_PROTOTXT, SAMPLE_CAFFEMODEL, 'sample');
  await page.goto('/');
  const script = await page.evaluate(async () => (await navigator.serviceWorker.ready).active?.scriptURL);
  expect(script).toMatch(/\/sw\.js$/);
  await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);

  // The precache list is the build's own: the page, its script and styles, the worker chunk, the manifest, the
  // icons, the sample; and all of it is in the cache.
  const { files, cached, used } = await page.evaluate(async () => {
    const sw = await (await fetch('./sw.js')).text();
    const files = (JSON.parse(/const FILES = (\[.*?\]);/.exec(sw)![1]) as string[]).map(
      (f) => new URL(f, location.href).pathname,
    );
    const name = (await caches.keys()).find((k) => k.startsWith('caffe-fold-'))!;
    const cached = (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname);
    const used = [...document.querySelectorAll<HTMLScriptElement | HTMLLinkElement>('script[src], link[href]')].map(
      (e) => new URL('src' in e ? e.src : e.href).pathname,
    );
    return { files, cached, used };
  });
  expect(cached.sort()).toEqual([...new Set(files)].sort());
  for (const u of used) expect(files, `${u} is precached`).toContain(u);
  for (const f of [
    '/index.html',
    '/manifest.webmanifest',
    '/icons/icon-192.png',
    '/icons/icon-512.png',
    '/sample/sample.prototxt',
    '/sample/sample.caffemodel',
  ]) {
    expect(files).toContain(f);
  }
  expect(files.some((f) => /^\/assets\/worker[^/]*\.js$/.test(f))).toBe(true);
  // The whole-net check's worker and its engine (OpenCV DNN in WebAssembly, one chunk) are precached too.
  expect(files.some((f) => /^\/assets\/check-worker-[^/]*\.js$/.test(f))).toBe(true);
  expect(files.some((f) => /^\/assets\/opencv-box-[^/]*\.js$/.test(f))).toBe(true);

  // No network from here: anything that still tries to reach the server is recorded (and fails).
  const reachedNetwork: string[] = [];
  await context.route('**', (route) => {
    reachedNetwork.push(route.request().url());
    return route.abort('internetdisconnected');
  });
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();

  await dropFiles(page, [
    { name: 'sample.prototxt', body: readFileSync(SAMPLE_PROTOTXT) },
    { name: 'sample.caffemodel', body: readFileSync(SAMPLE_CAFFEMODEL) },
  ]);
  await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
  await page.getByRole('button', { name: 'Fold 7 chains' }).click();
  await expect(page.getByText('✓ Folded')).toBeVisible({ timeout: 60_000 });
  // The whole-net check's engine (OpenCV in WebAssembly, its own worker and chunk) comes from the cache too.
  await expect(page.getByTestId('whole-net-check')).toHaveAttribute('data-status', 'equal', { timeout: 90_000 });
  const proto = await downloadBytes(page, 'Download sample_inference.prototxt');
  const model = await downloadBytes(page, 'Download sample_inference.caffemodel');
  expect(proto.bytes.equals(readFileSync(reference.prototxt))).toBe(true);
  expect(model.bytes.equals(readFileSync(reference.caffemodel))).toBe(true);

  // The bundled sample comes from the cache too.
  await page.getByRole('button', { name: 'Close the model' }).click();
  await page.getByRole('button', { name: 'Try a sample model' }).click();
  await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
  await expect(page.getByTestId('error-panel')).toBeHidden();

  // Only the browser's own update check of the service worker may have tried the network.
  expect(reachedNetwork.filter((u) => !u.endsWith('/sw.js'))).toEqual([]);
  await context.setOffline(false);
});
