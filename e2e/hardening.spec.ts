/** A file over 2 GB is refused in the page before it is read (privacy, offline and the other bad inputs: their own specs). */
import { test, expect } from '@playwright/test';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

test('a file over 2 GB is refused before it is read', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'caffe-fold-big-'));
  const big = join(dir, 'huge.caffemodel');
  writeFileSync(big, '');
  truncateSync(big, 2 ** 31 + 10); // sparse: no disk space, nothing read
  await page.goto('/');
  await page.setInputFiles('input[type=file]', big);
  const panel = page.getByTestId('error-panel');
  await expect(panel).toBeVisible();
  await expect(panel).toContainText('huge.caffemodel');
  await expect(panel).toContainText('The file is 2.00 GB; caffe-fold reads files up to 2 GB.');
});
