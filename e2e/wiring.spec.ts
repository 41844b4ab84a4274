/**
 * The rewiring bug's reproducer in the page: a BatchNorm+Scale merged across an in-place ReLU folds, the merged
 * Scale is placed where it reads what the BatchNorm read, the wiring proof is shown, and OpenCV DNN agrees.
 */
import { expect, test } from '@playwright/test';
import { caffemodelOf, prototxtOf } from '../test/build';
import { REPRODUCER } from '../test/chains';
import { downloadBytes, dropFiles } from './fixtures';

test('the reproducer folds, its wiring is proven and the whole net checks equal', async ({ page }) => {
  await page.goto('/');
  await dropFiles(page, [
    { name: 'repro.prototxt', body: Buffer.from(prototxtOf(REPRODUCER)) },
    { name: 'repro.caffemodel', body: Buffer.from(caffemodelOf(REPRODUCER)) },
  ]);
  await expect(page.getByTestId('count-chains')).toHaveText('1 chain foldable');
  await page.getByRole('button', { name: 'Fold 1 chain' }).click();
  await expect(page.getByTestId('fold-done')).toBeVisible();
  const proof = page.getByTestId('structure-proof');
  await expect(proof).toContainText('Wiring proven ✓');
  await expect(proof).toContainText('4 layers');
  await expect(page.getByTestId('check-status')).toContainText('whole net ✓', { timeout: 120_000 });
  await page.screenshot({ path: 'test-results/wiring-reproducer.png' });
  const text = (await downloadBytes(page, 'Download repro_inference.prototxt')).bytes.toString('utf8');
  const order = [...text.matchAll(/^ {2}name: "([^"]+)"/gm)].map((m) => m[1]);
  expect(order).toEqual(['conv', 'sc', 'relu_x', 'sum']);
});
