import { test, expect } from '@playwright/test';
import { readFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  CACHE,
  PNG_1x1,
  R50_PROTOTXT,
  ROOT,
  SHARED_MISSING,
  SHARED_SKIP_MESSAGE,
  cliFold,
  downloadBytes,
  dropFiles,
  resnet50Weights,
} from './fixtures';

const SHOTS = join(ROOT, 'test-results');

test('the page opens on the landing', async ({ page }) => {
  const external: string[] = [];
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.hostname !== '127.0.0.1' && u.protocol !== 'blob:' && u.protocol !== 'data:') external.push(r.url());
  });
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Open model files' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Try a sample model' })).toBeVisible();
  await expect(page.getByText('Nothing leaves your computer')).toBeVisible();
  expect(external).toEqual([]);
});

test('the sample loads and shows the graph and the summary', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'Try a sample model' }).click();
  await expect(page.getByTestId('graph')).toBeVisible();
  await expect(page.getByTestId('summary')).toBeVisible();
  await expect(page.locator('.react-flow__node-layer').first()).toBeVisible();
  await expect(page.getByTestId('count-chains')).toContainText(/\d+ chains? foldable/);
});

test('a prototxt alone shows what would fold; folding asks for the weights', async ({ page }) => {
  await page.goto('/');
  await dropFiles(page, [
    { name: 'sample.prototxt', body: readFileSync(join(ROOT, 'public', 'sample', 'sample.prototxt')) },
  ]);
  await expect(page.getByTestId('graph')).toBeVisible();
  await expect(page.getByTestId('count-chains')).toHaveText('7 chains foldable');
  await expect(page.getByRole('button', { name: 'Add the .caffemodel to fold' })).toBeDisabled();
});

test('a PNG shows the error panel', async ({ page }) => {
  await page.goto('/');
  await dropFiles(page, [{ name: 'photo.png', body: PNG_1x1 }]);
  const panel = page.getByTestId('error-panel');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('PNG');
  await expect(panel).toContainText('photo.png');
  await expect(panel).toContainText('What to do');
  await expect(page.getByRole('heading', { name: 'Drop a Caffe model here' })).toBeVisible();
});

/** The app's output folders in the origin-private file system: folder → [file name, size]. */
async function opfsOutputs(page: import('@playwright/test').Page): Promise<Record<string, [string, number][]>> {
  return page.evaluate(async () => {
    const out: Record<string, [string, number][]> = {};
    const root = await navigator.storage.getDirectory();
    let dir: FileSystemDirectoryHandle;
    try {
      dir = await root.getDirectoryHandle('caffe-fold-outputs');
    } catch {
      return out;
    }
    const it = dir as unknown as { entries(): AsyncIterable<[string, FileSystemHandle]> };
    for await (const [name, h] of it.entries()) {
      out[name] = [];
      if (h.kind !== 'directory') continue;
      const files = h as unknown as { entries(): AsyncIterable<[string, FileSystemFileHandle]> };
      for await (const [f, fh] of files.entries()) out[name].push([f, (await fh.getFile()).size]);
    }
    return out;
  });
}

test('the folded caffemodel is written to disk (OPFS), not copied in memory; closed workers leave nothing behind', async ({
  page,
}) => {
  const cli = cliFold(
    join(ROOT, 'public', 'sample', 'sample.prototxt'),
    join(ROOT, 'public', 'sample', 'sample.caffemodel'),
    'sample',
  );
  await page.goto('/');
  await page.getByRole('button', { name: 'Try a sample model' }).click();
  await page.getByRole('button', { name: 'Fold 7 chains' }).click();
  await expect(page.getByTestId('fold-done')).toBeVisible();
  const first = await opfsOutputs(page);
  expect(Object.keys(first)).toHaveLength(1);
  const [[folder, files]] = Object.entries(first);
  expect(files).toEqual([['sample_inference.caffemodel', readFileSync(cli.caffemodel).length]]);
  const model = await downloadBytes(page, 'Download sample_inference.caffemodel');
  expect(model.bytes.equals(readFileSync(cli.caffemodel))).toBe(true);

  // Folding again replaces the file; closing stops the worker, and the next one deletes its folder.
  await page.getByRole('button', { name: 'Close the model' }).click();
  await page.getByRole('button', { name: 'Try a sample model' }).click();
  await page.getByRole('button', { name: 'Fold 7 chains' }).click();
  await expect(page.getByTestId('fold-done')).toBeVisible();
  const second = await opfsOutputs(page);
  expect(Object.keys(second)).toHaveLength(1);
  expect(Object.keys(second)[0]).not.toBe(folder);
  expect(
    (await downloadBytes(page, 'Download sample_inference.caffemodel')).bytes.equals(readFileSync(cli.caffemodel)),
  ).toBe(true);
});

test.describe('ResNet-50 pair', () => {
  test.skip(SHARED_MISSING, SHARED_SKIP_MESSAGE);

  test('drop, 53 chains, fold, downloads equal the CLI', async ({ page }) => {
    test.setTimeout(420_000);
    const weights = resnet50Weights();
    const cli = cliFold(R50_PROTOTXT, weights, 'resnet50');
    mkdirSync(CACHE, { recursive: true });

    await page.goto('/');
    await dropFiles(page, [
      { name: basename(R50_PROTOTXT), body: readFileSync(R50_PROTOTXT) },
      { name: 'resnet50_deploy.caffemodel', body: readFileSync(weights) },
    ]);
    await expect(page.getByTestId('graph')).toBeVisible({ timeout: 120_000 });
    await expect(page.getByTestId('count-chains')).toHaveText('53 chains foldable');
    await expect(page.getByTestId('count-removed')).toHaveText('106 layers to remove');
    await expect(page.getByTestId('count-refused')).toHaveText('0 refused');
    // Chains are drawn: conv1 carries the Conv+BN+Scale badge.
    await expect(page.getByRole('button', { name: 'Chain Conv+BN+Scale at conv1', exact: true })).toBeVisible();
    await page.screenshot({ path: join(SHOTS, 'graph-before.png') });

    // Side panel: a layer's details with parameters and weight statistics.
    await page.getByRole('button', { name: 'Chain Conv+BN+Scale at conv1', exact: true }).click();
    await expect(page.getByRole('complementary', { name: 'Details' })).toContainText('alpha range');
    await page.getByRole('button', { name: 'Show layer conv1' }).click();
    await expect(page.getByRole('complementary', { name: 'Details' })).toContainText('convolution_param');
    await expect(page.getByRole('complementary', { name: 'Details' })).toContainText('std');

    // Search centres and selects a layer.
    await page.getByRole('searchbox', { name: 'Find a layer by name or type' }).fill('res5c_branch2c');
    await page.keyboard.press('Enter');
    await expect(page.getByRole('complementary', { name: 'Details' }).locator('.detail-title')).toHaveText(
      'res5c_branch2c',
    );

    // Keyboard zoom and pan when the canvas has focus.
    const viewport = page.locator('.react-flow__viewport');
    const before = await viewport.getAttribute('style');
    await page.getByTestId('graph').focus();
    await page.keyboard.press('+');
    await expect.poll(() => viewport.getAttribute('style')).not.toBe(before);
    const zoomed = await viewport.getAttribute('style');
    await page.keyboard.press('ArrowDown');
    await expect.poll(() => viewport.getAttribute('style')).not.toBe(zoomed);

    // A chain switch changes the counts; switching it back restores them.
    await page.getByRole('button', { name: 'Back to the overview' }).click();
    const sw = page.getByRole('switch', { name: 'Fold Conv+BN+Scale at conv1' });
    await sw.uncheck({ force: true });
    await expect(page.getByTestId('count-chains')).toHaveText('52 chains foldable');
    await expect(page.getByTestId('count-removed')).toHaveText('104 layers to remove');
    await sw.check({ force: true });
    await expect(page.getByTestId('count-chains')).toHaveText('53 chains foldable');

    // A cancelled fold leaves the model and the page as they were; the next fold works.
    await page.getByRole('button', { name: 'Fold 53 chains' }).click();
    await page.getByRole('button', { name: 'Cancel the fold' }).click({ timeout: 10_000 });
    await expect(page.getByRole('button', { name: 'Cancel the fold' })).toBeHidden();
    await expect(page.getByTestId('graph')).toHaveAttribute('data-side', 'before');
    await expect(page.getByTestId('count-chains')).toHaveText('53 chains foldable');
    await expect(page.getByTestId('error-panel')).toBeHidden();

    // The main thread stays responsive during the fold: no task over 100 ms (the fold runs in the worker).
    await page.evaluate(() => {
      const w = window as unknown as { __longTasks: number[] };
      w.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push(e.duration);
      }).observe({ type: 'longtask' });
    });
    await page.getByRole('button', { name: 'Fold 53 chains' }).click();
    // Waiting by test id: Playwright's polling runs on the page's main thread too, and a text search of the whole
    // page would add its own long tasks to the measurement.
    await expect(page.getByTestId('fold-done')).toBeVisible({ timeout: 180_000 });
    await expect(page.getByTestId('graph')).toHaveAttribute('data-side', 'after');
    await page.waitForTimeout(1000);
    const longTasks = await page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
    console.log(
      `[e2e] main-thread tasks over 50 ms during the ResNet-50 fold: ${longTasks.map((d) => d.toFixed(0)).join(', ') || 'none'}`,
    );
    // Issue 5's target. Before the graph was drawn from what is visible and long lists grew frame by frame, the end
    // of the fold was one 340–430 ms task (React mounting the folded graph and its report).
    expect(Math.max(0, ...longTasks)).toBeLessThan(100);
    await expect(page.getByTestId('graph')).toHaveAttribute('data-side', 'after');
    await expect(page.getByTestId('fold-report')).toContainText('→');
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SHOTS, 'graph-after.png') });

    const proto = await downloadBytes(page, 'Download resnet50_deploy_inference.prototxt');
    expect(proto.name).toBe('resnet50_deploy_inference.prototxt');
    expect(proto.bytes.equals(readFileSync(cli.prototxt))).toBe(true);
    const model = await downloadBytes(page, 'Download resnet50_deploy_inference.caffemodel');
    expect(model.name).toBe('resnet50_deploy_inference.caffemodel');
    expect(model.bytes.length).toBe(readFileSync(cli.caffemodel).length);
    expect(model.bytes.equals(readFileSync(cli.caffemodel))).toBe(true);

    const zip = await downloadBytes(page, 'Download both as a .zip');
    expect(zip.name).toBe('resnet50_deploy_inference.zip');
    expect(zip.bytes.subarray(0, 4).toString('hex')).toBe('504b0304');
    expect(zip.bytes.length).toBeGreaterThan(model.bytes.length + proto.bytes.length);

    // Before/after toggle.
    await page.getByRole('radio', { name: 'Before' }).click();
    await expect(page.getByTestId('graph')).toHaveAttribute('data-side', 'before');
  });
});
