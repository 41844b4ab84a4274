/**
 * The Chromium half of `npm run bench`: the built app (dist/, served by `vite preview`) in Debian's Chromium,
 * given the benchmark's models through its file input.
 *
 * - Phases: the worker records each phase as a User Timing measure (`caffe-fold read`, `… parse`, …, `… output`);
 *   they are read from the worker after the fold. The phases (read … write) sum to the total, against the
 *   floor: reading the File into memory and copying it once, in a page. Floor and app each run in a fresh browser,
 *   twice, best kept. `output`, handing the written chunks over for the download (a file in the origin-private file
 *   system, or a Blob), is the browser's counterpart of saving the output to disk in Node: printed, and given as a
 *   second ratio with it included.
 * - As the user sees it: from choosing the files to the graph drawn, and from "Fold" to the folded graph.
 * - Memory: the peak RSS of the page's renderer process (the page and its worker), sampled every 50 ms, and that
 *   peak less the RSS of the idle page before the files were given.
 *
 * Prints; never fails on time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { tmpdir } from 'node:os';

const PORT = 4391;

async function serve(root: string): Promise<ChildProcess> {
  // vite itself, not through npx: killing npx left its child, the preview server, running after the bench.
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  const p = spawn(process.execPath, [vite, 'preview', '--port', String(PORT), '--strictPort', '--host', '127.0.0.1'], {
    cwd: root,
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${PORT}/`)).ok) return p;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  p.kill();
  throw new Error('vite preview did not start');
}

/**
 * RSS of the page's renderer process: the page and its worker run in one renderer; Chromium's other renderers
 * (a spare one, about:blank) are not the app's. It is the largest renderer while a model is loaded, and the
 * benchmark's own page is the only one with content.
 */
function rendererRss(): number {
  let largest = 0;
  for (const pid of readdirNumeric('/proc')) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium') || !cmd.includes('--type=renderer')) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) largest = Math.max(largest, Number(m[1]) * 1024);
    } catch {
      /* gone */
    }
  }
  return largest;
}

/** RSS of Chromium's browser process (the one without --type): it holds Blob storage, e.g. the download. */
function browserProcessRss(): number {
  let rss = 0;
  for (const pid of readdirNumeric('/proc')) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium') || cmd.includes('--type=')) continue;
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) rss = Math.max(rss, Number(m[1]) * 1024);
    } catch {
      /* gone */
    }
  }
  return rss;
}

function readdirNumeric(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /^\d+$/.test(f));
  } catch {
    return [];
  }
}

export interface BrowserResult {
  name: string;
  size: number;
  floor: number;
  /** Worker phases in ms (summed over calls), in pipeline order. */
  phases: Record<string, number>;
  /** read + parse + analyse + fold + verify + write: the pipeline, as in Node (shapes, layout and output apart). */
  total: number;
  load: number;
  fold: number;
  peakRss: number;
  idleRss: number;
  /** The browser process: peak and idle RSS (it would receive a Blob's bytes; an OPFS file is on disk). */
  browserPeak: number;
  browserIdle: number;
}

const PIPELINE = ['read', 'parse', 'analyse', 'fold', 'verify', 'write'];

/** One run of the app: choose the files, wait for the graph, fold, read the worker's phases. */
async function appRun(
  browser: BrowserContext,
  c: { name: string; prototxt: string; model: string },
  size: number,
  floor: number,
): Promise<BrowserResult> {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${PORT}/`);
  await new Promise((r) => setTimeout(r, 500));
  const idleRss = rendererRss();
  const browserIdle = browserProcessRss();
  let peakRss = idleRss;
  let browserPeak = browserIdle;
  const timer = setInterval(() => {
    peakRss = Math.max(peakRss, rendererRss());
    browserPeak = Math.max(browserPeak, browserProcessRss());
  }, 50);
  const t0 = Date.now();
  await page.setInputFiles('input[type=file]', [c.prototxt, c.model]);
  await page.getByTestId('count-chains').waitFor({ timeout: 600_000 });
  await page.locator('.react-flow__node').first().waitFor({ timeout: 600_000 });
  const load = Date.now() - t0;
  const t1 = Date.now();
  await page.getByRole('button', { name: /^Fold \d+ chains?$/ }).click();
  await page.getByTestId('fold-done').waitFor({ timeout: 600_000 });
  const fold = Date.now() - t1;
  peakRss = Math.max(peakRss, rendererRss());
  const worker = page.workers().find((w) => w.url().includes('worker'));
  if (!worker) throw new Error('the app has no worker');
  const measures = await worker.evaluate(() =>
    performance.getEntriesByType('measure').map((m) => ({ name: m.name, duration: m.duration })),
  );
  const phases: Record<string, number> = {};
  for (const m of measures) {
    if (!m.name.startsWith('caffe-fold ')) continue;
    const k = m.name.slice('caffe-fold '.length);
    phases[k] = (phases[k] ?? 0) + m.duration;
  }
  const total = PIPELINE.reduce((a, k) => a + (phases[k] ?? 0), 0);
  clearInterval(timer);
  // A Blob's bytes would reach the browser process after the fold returns: keep sampling a moment.
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    browserPeak = Math.max(browserPeak, browserProcessRss());
  }
  await page.close();
  return { name: c.name, size, floor, phases, total, load, fold, peakRss, idleRss, browserPeak, browserIdle };
}

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * The floor, in a fresh browser of its own (closed before the app's runs, so its renderer's memory is not mistaken
 * for the app's): read the File into memory and copy it once — the first time in that browser, as the app reads it.
 */
async function measureFloor(model: string): Promise<number> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ARGS,
  });
  try {
    const fp = await browser.newPage();
    await fp.goto(`http://127.0.0.1:${PORT}/`);
    await fp.evaluate(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'bench-floor';
      document.body.append(input);
    });
    await fp.setInputFiles('#bench-floor', model);
    return await fp.evaluate(async () => {
      const f = (document.getElementById('bench-floor') as HTMLInputElement).files![0];
      const t = performance.now();
      const b = await f.arrayBuffer();
      b.slice(0);
      return performance.now() - t;
    });
  } finally {
    await browser.close();
  }
}

export async function benchBrowser(
  root: string,
  cases: { name: string; prototxt: string; model: string }[],
): Promise<BrowserResult[]> {
  if (!existsSync(join(root, 'dist', 'index.html'))) throw new Error('dist/ is missing: run `npx vite build` first');
  const server = await serve(root);
  const out: BrowserResult[] = [];
  try {
    for (const c of cases) {
      // Floor and app alike: each run in a fresh browser, twice (once for a model over 200 MB), the best kept.
      const size = statSync(c.model).size;
      const runs = size > 200e6 ? 1 : 2;
      let floor = Infinity;
      for (let run = 0; run < runs; run++) floor = Math.min(floor, await measureFloor(c.model));
      // The app runs in a profile on disk, as a user's (Playwright's default contexts are incognito, where the
      // origin-private file system the app writes its output to is kept in the browser's memory). Memory is the
      // worst over the runs.
      let best: BrowserResult | undefined;
      for (let run = 0; run < runs; run++) {
        const profile = mkdtempSync(join(tmpdir(), 'caffe-fold-bench-'));
        const browser = await chromium.launchPersistentContext(profile, {
          executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
          args: ARGS,
        });
        try {
          for (const p of browser.pages()) await p.close();
          const r = await appRun(browser, c, size, floor);
          if (!best || r.total < best.total)
            best = {
              ...r,
              peakRss: Math.max(r.peakRss, best?.peakRss ?? 0),
              browserPeak: Math.max(r.browserPeak, best?.browserPeak ?? 0),
            };
          else
            best = {
              ...best,
              peakRss: Math.max(r.peakRss, best.peakRss),
              browserPeak: Math.max(r.browserPeak, best.browserPeak),
            };
        } finally {
          await browser.close();
          rmSync(profile, { recursive: true, force: true });
        }
      }
      out.push(best!);
    }
  } finally {
    server.kill();
  }
  return out;
}
