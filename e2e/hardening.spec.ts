/** Privacy, offline use, and bad input shown in the page (the hardening issue). */
import { test, expect, type Request } from '@playwright/test';
import { mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, downloadBytes, dropFiles } from './fixtures';

const SAMPLE = {
  prototxt: readFileSync(join(ROOT, 'public', 'sample', 'sample.prototxt')),
  caffemodel: readFileSync(join(ROOT, 'public', 'sample', 'sample.caffemodel')),
};

async function foldSampleAndDownload(page: import('@playwright/test').Page) {
  await dropFiles(page, [
    { name: 'sample.prototxt', body: SAMPLE.prototxt },
    { name: 'sample.caffemodel', body: SAMPLE.caffemodel },
  ]);
  await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
  await page.getByRole('button', { name: 'Fold 7 chains' }).click();
  await expect(page.getByText('✓ Folded')).toBeVisible({ timeout: 60_000 });
  const proto = await downloadBytes(page, 'Download sample_inference.prototxt');
  const model = await downloadBytes(page, 'Download sample_inference.caffemodel');
  expect(proto.bytes.toString('utf8')).not.toContain('type: "Scale"\n  bottom: "conv1"');
  expect(model.bytes.length).toBeGreaterThan(1000);
  return { proto, model };
}

test('no request leaves the app during a whole session: load, drop, fold, download', async ({ page, context, baseURL }) => {
  const origin = new URL(baseURL!).origin;
  const seen: string[] = [];
  const record = (r: Request) => seen.push(r.url());
  context.on('request', record);
  await page.goto('/');
  await foldSampleAndDownload(page);
  await downloadBytes(page, 'Download both as a .zip');
  const outside = seen.filter((u) => !u.startsWith(origin + '/') && !u.startsWith('blob:') && !u.startsWith('data:'));
  expect(seen.length).toBeGreaterThan(3); // the recording works: the page, its script, its styles, its worker
  expect(outside).toEqual([]);
  // And the policy forbids it anyway.
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("connect-src 'self';");
  expect(csp).not.toMatch(/https?:|unsafe-eval/);
});

test('offline: after one visit the app loads, folds and downloads with no network', async ({ page, context }) => {
  await page.goto('/');
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  // The service worker controls the page after a reload.
  await page.reload();
  await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();
  await foldSampleAndDownload(page);
  // The bundled sample comes from the cache too.
  await page.getByRole('button', { name: 'Close' }).click();
  await page.getByRole('button', { name: 'Try a sample model' }).click();
  await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
  await context.setOffline(false);
});

test.describe('bad input shows the error panel: what, where, what to do', () => {
  const cases: { name: string; files: { name: string; body: Buffer }[]; expect: (string | RegExp)[] }[] = [
    { name: 'an empty file', files: [{ name: 'empty.caffemodel', body: Buffer.alloc(0) }], expect: ['empty.caffemodel', 'is empty', 'get the file again'] },
    {
      name: 'a truncated caffemodel',
      files: [
        { name: 'sample.prototxt', body: SAMPLE.prototxt },
        { name: 'cut.caffemodel', body: SAMPLE.caffemodel.subarray(0, 20000) },
      ],
      expect: [/cut\.caffemodel at byte \d+/, 'bytes long but only', 'cut short'],
    },
    {
      name: 'a prototxt syntax error',
      files: [{ name: 'broken.prototxt', body: Buffer.from(SAMPLE.prototxt.toString('utf8').replace('num_output: 16', 'num_output 16')) }],
      expect: [/broken\.prototxt:\d+:\d+/, `expected ':' or '{' after "num_output"`],
    },
    { name: 'an ONNX model', files: [{ name: 'model.onnx', body: Buffer.concat([Buffer.from([0x08, 0x07, 0x12, 0x07]), Buffer.from('pytorch')]) }], expect: ['model.onnx', 'ONNX', 'onnxoptimizer'] },
    { name: 'a zip', files: [{ name: 'models.zip', body: Buffer.from([0x50, 0x4b, 3, 4, 20, 0, 0, 0]) }], expect: ['models.zip', 'zip archive', 'unpack it first'] },
  ];
  for (const c of cases) {
    test(c.name, async ({ page }) => {
      await page.goto('/');
      await dropFiles(page, c.files);
      const panel = page.getByTestId('error-panel');
      await expect(panel).toBeVisible();
      for (const e of c.expect) await expect(panel).toContainText(e);
      if (c.name === 'a truncated caffemodel') await page.screenshot({ path: join(ROOT, 'test-results', 'error-truncated.png') });
    });
  }
});

test('a file over 2 GB is refused before it is read', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'caffe-fold-big-'));
  const big = join(dir, 'huge.caffemodel');
  writeFileSync(big, '');
  truncateSync(big, 2 ** 31 + 10); // sparse: no disk space, nothing read
  await page.goto('/');
  await page.setInputFiles('input[type=file]', big);
  const panel = page.getByTestId('error-panel');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('"huge.caffemodel" is 2.00 GB; caffe-fold reads files up to 2 GB.');
});
