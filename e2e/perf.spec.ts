/**
 * Issue 5's interaction targets, measured in the page: ResNet-152 (670 layers) laid out and painted within 1.5 s
 * of the drop, a scripted pan at 50 frames per second or more, and (in app.spec) no main-thread task over 100 ms
 * during a fold. The prototxt is generated (scripts/resnet-prototxt.ts), so nothing here needs ../shared.
 */
import { expect, test, type Page } from '@playwright/test';
import { resnetDeploy } from '../scripts/resnet-prototxt';

/** Drop a text file on the landing from inside the page, and time drop → first frame painted with the graph. */
async function dropAndTimePaint(page: Page, name: string, text: string): Promise<{ ms: number; longTasks: number[] }> {
  return page.evaluate(
    async ([name, text]) => {
      const longTasks: number[] = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => longTasks.push(e.duration))).observe({
        type: 'longtask',
      });
      const dt = new DataTransfer();
      dt.items.add(new File([text], name));
      const zone = document.querySelector('[data-testid="drop-zone"]')!;
      const t0 = performance.now();
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      // The first animation frame in which graph nodes are on screen; the frame after it starts once that one
      // has been painted.
      const painted = await new Promise<number>((resolve, reject) => {
        const timeout = setTimeout(() => reject(new Error('no graph within 30 s')), 30_000);
        let seen = false;
        const tick = (ts: number) => {
          if (seen) {
            clearTimeout(timeout);
            resolve(ts);
            return;
          }
          const n = document.querySelector<HTMLElement>('.react-flow__node');
          if (n && getComputedStyle(n).visibility !== 'hidden' && n.getBoundingClientRect().height > 0) seen = true;
          requestAnimationFrame(tick);
        };
        requestAnimationFrame(tick);
      });
      await new Promise((r) => setTimeout(r, 300));
      return { ms: painted - t0, longTasks };
    },
    [name, text] as const,
  );
}

/** Drag the canvas with synthetic mouse events, one step per animation frame, and count the frames. */
async function scriptedPan(
  page: Page,
  ms: number,
): Promise<{ fps: number; frames: number; worstGap: number; moved: number }> {
  return page.evaluate(async (duration) => {
    const pane = document.querySelector<HTMLElement>('.react-flow__pane')!;
    const viewport = document.querySelector<HTMLElement>('.react-flow__viewport')!;
    const r = pane.getBoundingClientRect();
    const x = r.left + r.width / 2;
    let y = r.top + r.height * 0.8;
    const before = viewport.style.transform;
    const opts = (cy: number) => ({
      clientX: x,
      clientY: cy,
      bubbles: true,
      cancelable: true,
      view: window,
      button: 0,
      buttons: 1,
    });
    pane.dispatchEvent(new MouseEvent('mousedown', opts(y)));
    const stamps: number[] = [];
    await new Promise<void>((resolve) => {
      const start = performance.now();
      const step = (ts: number) => {
        stamps.push(ts);
        y -= 6;
        if (y < r.top + 20) y = r.top + r.height * 0.8; // keep dragging upwards through the net
        window.dispatchEvent(new MouseEvent('mousemove', opts(y)));
        if (ts - start < duration) requestAnimationFrame(step);
        else resolve();
      };
      requestAnimationFrame(step);
    });
    window.dispatchEvent(new MouseEvent('mouseup', opts(y)));
    let worstGap = 0;
    for (let i = 1; i < stamps.length; i++) worstGap = Math.max(worstGap, stamps[i] - stamps[i - 1]);
    const elapsed = stamps[stamps.length - 1] - stamps[0];
    return {
      fps: ((stamps.length - 1) * 1000) / elapsed,
      frames: stamps.length,
      worstGap,
      moved: before === viewport.style.transform ? 0 : 1,
    };
  }, ms);
}

test('ResNet-152: laid out and painted within 1.5 s of the drop; a scripted pan runs at 50 fps or more', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await page.goto('/');
  await expect(page.getByTestId('drop-zone')).toBeVisible();
  // A user does not drop a file in the page's first instant: let the page settle first.
  await page.waitForTimeout(1500);
  const { ms, longTasks } = await dropAndTimePaint(page, 'resnet152_deploy.prototxt', resnetDeploy(152));
  await expect(page.getByTestId('count-chains')).toHaveText('155 chains foldable');
  const nodes = await page.locator('.react-flow__node').count();
  console.log(
    `[e2e] ResNet-152 drop → graph painted: ${ms.toFixed(0)} ms (${nodes} nodes in the DOM); main-thread tasks over 50 ms: ${longTasks.map((d) => d.toFixed(0)).join(', ') || 'none'}`,
  );
  const worker = page.workers().find((w) => w.url().includes('worker'));
  const phases = worker
    ? await worker.evaluate(() =>
        performance
          .getEntriesByType('measure')
          .map((m) => `${m.name.replace('caffe-fold ', '')} ${m.duration.toFixed(0)} ms`),
      )
    : [];
  console.log(`[e2e]   in the worker: ${phases.join(', ')}`);
  expect(ms).toBeLessThan(1500);

  const pan = await scriptedPan(page, 2000);
  console.log(
    `[e2e] ResNet-152 scripted pan: ${pan.fps.toFixed(1)} fps over ${pan.frames} frames, worst frame gap ${pan.worstGap.toFixed(0)} ms`,
  );
  expect(pan.moved).toBe(1);
  expect(pan.fps).toBeGreaterThanOrEqual(50);
});
