/**
 * Compare mode in the page: an original pair and a folded pair (folded by any tool) dropped in two zones run
 * through the same whole-net check and table as after a fold — the page's `npm run fold -- compare`.
 */
import { test, expect, type Page } from '@playwright/test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, ROOT, cliFold, dropFiles } from './fixtures';
import { scaleWeights } from '../test/tamper';

const SHOTS = join(ROOT, 'test-results');
const SAMPLE = join(ROOT, 'public', 'sample');
const sample = () => [
  { name: 'sample.prototxt', body: readFileSync(join(SAMPLE, 'sample.prototxt')) },
  { name: 'sample.caffemodel', body: readFileSync(join(SAMPLE, 'sample.caffemodel')) },
];
const folded = () => cliFold(join(SAMPLE, 'sample.prototxt'), join(SAMPLE, 'sample.caffemodel'), 'sample');
const ORIGINAL = '[data-testid="compare-zone-original"]';
const FOLDED = '[data-testid="compare-zone-folded"]';

async function checkTable(page: Page): Promise<string[][]> {
  return page
    .getByTestId('check-table')
    .locator('tbody tr')
    .evaluateAll((rows) =>
      rows.map((r) => [...r.querySelectorAll('th span, td')].map((c) => (c.textContent ?? '').trim())),
    );
}

async function openCompare(page: Page) {
  await page.goto('/');
  await page.getByRole('button', { name: 'Compare two models' }).click();
  await expect(page.getByTestId('compare-view')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Compare', exact: true })).toBeDisabled();
}

test('compare: the sample against its fold by the CLI — every output ✓ "Same outputs"', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  const f = folded();
  await openCompare(page);
  await dropFiles(page, sample(), ORIGINAL);
  await expect(page.locator(ORIGINAL)).toContainText('sample.prototxt');
  await expect(page.locator(ORIGINAL)).toContainText('sample.caffemodel');
  // The folded pair given one file at a time, the weights first: each takes its place by content.
  await dropFiles(page, [{ name: 'folded.caffemodel', body: readFileSync(f.caffemodel) }], FOLDED);
  await expect(page.locator(FOLDED)).toContainText('folded.caffemodel');
  await expect(page.getByRole('button', { name: 'Compare', exact: true })).toBeDisabled();
  await dropFiles(page, [{ name: 'folded.prototxt', body: readFileSync(f.prototxt) }], FOLDED);
  await expect(page.locator(FOLDED)).toContainText('folded.prototxt');
  await page.getByRole('button', { name: 'Compare', exact: true }).click();
  const check = page.getByTestId('whole-net-check');
  await expect(check).toHaveAttribute('data-status', 'equal', { timeout: 60_000 });
  await expect(page.getByTestId('check-verdict')).toContainText('Same outputs');
  const rows = await checkTable(page);
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) {
    console.log(`[e2e] compare sample vs CLI fold: ${r.join(' ')}`);
    expect(r[5], r.join(' ')).toBe('✓');
  }
  await expect(check).toContainText('OpenCV DNN');
  await expect(page.getByTestId('check-latency')).toBeVisible();
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'compare.png'), fullPage: true });
  // Back to the start page, and the fold still works from there.
  await page.getByRole('button', { name: 'Back to the start page' }).click();
  await expect(page.getByTestId('drop-zone')).toBeVisible();
  expect(errors).toEqual([]);
});

test('compare: a deliberately wrong fold is ✗ different', async ({ page }) => {
  const f = folded();
  mkdirSync(CACHE, { recursive: true });
  const bad = join(CACHE, 'compare-wrong.caffemodel');
  writeFileSync(bad, scaleWeights(readFileSync(f.caffemodel), 'res2a_branch2b', 1.01));
  await openCompare(page);
  await dropFiles(page, sample(), ORIGINAL);
  await dropFiles(
    page,
    [
      { name: 'wrong.prototxt', body: readFileSync(f.prototxt) },
      { name: 'wrong.caffemodel', body: readFileSync(bad) },
    ],
    FOLDED,
  );
  await page.getByRole('button', { name: 'Compare', exact: true }).click();
  const check = page.getByTestId('whole-net-check');
  await expect(check).toHaveAttribute('data-status', 'different', { timeout: 60_000 });
  await expect(page.getByTestId('check-verdict')).toContainText('Different');
  await expect(check).not.toContainText('Same outputs');
  const rows = await checkTable(page);
  for (const r of rows) console.log(`[e2e] compare sample vs wrong fold: ${r.join(' ')}`);
  expect(rows.some((r) => r[5] === '✗')).toBe(true);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'compare-different.png'), fullPage: true });
});

test('compare: a zone given two prototxts, or a file that is no model, says so; nothing runs', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const f = folded();
  await openCompare(page);
  await dropFiles(
    page,
    [
      { name: 'a.prototxt', body: readFileSync(join(SAMPLE, 'sample.prototxt')) },
      { name: 'b.prototxt', body: readFileSync(f.prototxt) },
    ],
    ORIGINAL,
  );
  await expect(page.getByTestId('compare-error-original')).toContainText(
    'Both files are network descriptions (.prototxt)',
  );
  await expect(page.locator(ORIGINAL)).toContainText('not given yet');
  await dropFiles(page, [{ name: 'empty.caffemodel', body: Buffer.alloc(0) }], FOLDED);
  await expect(page.getByTestId('compare-error-folded')).toContainText('is empty');
  await expect(page.getByRole('button', { name: 'Compare', exact: true })).toBeDisabled();
  await expect(page.getByTestId('whole-net-check')).toHaveCount(0);
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'compare-errors.png'), fullPage: true });
  // The right files afterwards clear the message.
  await dropFiles(page, sample(), ORIGINAL);
  await expect(page.getByTestId('compare-error-original')).toHaveCount(0);
  await expect(page.locator(ORIGINAL)).toContainText('sample.caffemodel');
  expect(errors).toEqual([]);
});

test('compare: the start page offers it, and a cancelled compare says "Not run"', async ({ page }) => {
  const f = folded();
  await page.goto('/');
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, 'compare-landing.png') });
  await page.getByRole('button', { name: 'Compare two models' }).click();
  await dropFiles(page, sample(), ORIGINAL);
  await dropFiles(
    page,
    [
      { name: 'folded.prototxt', body: readFileSync(f.prototxt) },
      { name: 'folded.caffemodel', body: readFileSync(f.caffemodel) },
    ],
    FOLDED,
  );
  await page.getByRole('button', { name: 'Compare', exact: true }).click();
  await expect(page.getByTestId('check-step')).toBeVisible();
  await page.getByRole('button', { name: 'Cancel the check' }).click();
  const check = page.getByTestId('whole-net-check');
  await expect(check).toHaveAttribute('data-status', 'cancelled');
  await expect(page.getByTestId('check-verdict')).toContainText('Not run');
  await expect(check).not.toContainText('Same outputs');
  // Run again from the panel.
  await check.getByRole('button', { name: 'Compare' }).click();
  await expect(check).toHaveAttribute('data-status', 'equal', { timeout: 60_000 });
});
