/**
 * Prints report HTML to PDF with headless Chromium driven by playwright-core. One browser is
 * launched on first use and shared; renderings run at most `concurrency` at a time, a bounded
 * number wait, more are refused. Each rendering gets its own context with JavaScript off and the
 * network closed (the document is self-contained).
 */
import { accessSync, constants } from 'node:fs';
import { WattproofError } from '@wattproof/core';
import { DEFAULT_REPORT_CONFIG, type ReportConfig } from './config.js';
import { reportError } from './errors.js';

/** Flags of the headless browser: no sandbox (containers), nothing that phones home. */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'] as const;

export interface PdfRenderer {
  /**
   * Prints `html` (a complete document with its own `@page` rules) to PDF bytes.
   * @throws WattproofError REPORT_CHROMIUM_UNAVAILABLE (no browser), REPORT_RENDERER_BUSY (queue full), REPORT_PDF_FAILED (print failed or timed out).
   */
  render(html: string): Promise<Buffer>;
  /** Screenshots `html` laid out one A4 page wide (the first A4 page height, or all of it) as PNG, for previews and tests. */
  screenshot(html: string, options?: { fullPage?: boolean }): Promise<Buffer>;
  /** Closes the shared browser; later renderings launch a new one. */
  close(): Promise<void>;
}

type Browser = import('playwright-core').Browser;

const INSTALL_HINT = 'install Chromium (apt-get install chromium) or set REPORT_CHROMIUM_PATH to a Chromium/Chrome binary; or ask for format=html and print it to PDF from a browser';

/** Creates the renderer; nothing is launched until the first rendering. */
export function createPdfRenderer(config: Partial<ReportConfig> = {}): PdfRenderer {
  const cfg = { ...DEFAULT_REPORT_CONFIG, ...config };
  let browser: Promise<Browser> | undefined;
  let active = 0;
  const waiting: Array<() => void> = [];

  async function launch(): Promise<Browser> {
    try {
      accessSync(cfg.REPORT_CHROMIUM_PATH, constants.X_OK);
    } catch (cause) {
      throw reportError('REPORT_CHROMIUM_UNAVAILABLE', `no Chromium at ${cfg.REPORT_CHROMIUM_PATH}: ${INSTALL_HINT}`, { cause, details: { path: cfg.REPORT_CHROMIUM_PATH } });
    }
    let playwright: typeof import('playwright-core');
    try {
      playwright = await import('playwright-core');
    } catch (cause) {
      throw reportError('REPORT_CHROMIUM_UNAVAILABLE', `the playwright-core package is not installed: npm install playwright-core, or ask for format=html and print it from a browser`, { cause });
    }
    try {
      const b = await playwright.chromium.launch({ executablePath: cfg.REPORT_CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS], timeout: cfg.REPORT_PDF_TIMEOUT_MS });
      // A crashed or killed browser is relaunched on the next rendering.
      b.on('disconnected', () => {
        if (current === b) {
          browser = undefined;
          current = undefined;
        }
      });
      current = b;
      return b;
    } catch (cause) {
      throw reportError('REPORT_CHROMIUM_UNAVAILABLE', `Chromium at ${cfg.REPORT_CHROMIUM_PATH} did not start: ${INSTALL_HINT}`, { cause, details: { path: cfg.REPORT_CHROMIUM_PATH } });
    }
  }
  let current: Browser | undefined;

  function getBrowser(): Promise<Browser> {
    if (!browser) {
      browser = launch();
      // A failed launch is not cached: the next request tries again (Chromium may be installed since).
      browser.catch(() => (browser = undefined));
    }
    return browser;
  }

  async function slot<T>(work: () => Promise<T>): Promise<T> {
    if (active >= cfg.REPORT_PDF_CONCURRENCY) {
      if (waiting.length >= cfg.REPORT_PDF_QUEUE_MAX) throw reportError('REPORT_RENDERER_BUSY', `${active} PDF renderings running and ${waiting.length} waiting; retry later`);
      await new Promise<void>((resolve) => waiting.push(resolve));
    } else {
      active++;
    }
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  }

  async function withPage<T>(html: string, media: 'print' | 'screen', use: (page: import('playwright-core').Page) => Promise<T>): Promise<T> {
    return slot(async () => {
      const b = await getBrowser();
      let context: import('playwright-core').BrowserContext | undefined;
      const deadline = new Promise<never>((_, reject) => {
        const timer = setTimeout(() => reject(reportError('REPORT_PDF_FAILED', `rendering took longer than ${cfg.REPORT_PDF_TIMEOUT_MS} ms`)), cfg.REPORT_PDF_TIMEOUT_MS);
        timer.unref();
      });
      try {
        const work = (async () => {
          context = await b.newContext({ javaScriptEnabled: false, offline: true });
          // Nothing may be fetched: the report is self-contained.
          await context.route('**/*', (route) => route.abort());
          const page = await context.newPage();
          await page.setContent(html, { waitUntil: 'load', timeout: cfg.REPORT_PDF_TIMEOUT_MS });
          await page.emulateMedia({ media });
          return use(page);
        })();
        work.catch(() => {});
        return await Promise.race([work, deadline]);
      } catch (err) {
        if (err instanceof WattproofError) throw err;
        throw reportError('REPORT_PDF_FAILED', `Chromium failed to print the report: ${(err as Error).message}`, { cause: err });
      } finally {
        await context?.close().catch(() => {});
      }
    });
  }

  return {
    render: (html) => withPage(html, 'print', async (page) => Buffer.from(await page.pdf({ preferCSSPageSize: true, printBackground: true, displayHeaderFooter: false, tagged: true, outline: true }))),

    screenshot: (html, options = {}) =>
      withPage(html, 'screen', async (page) => {
        // A4 at 96 px/in: 794 × 1123 px; screen media lays the document out as one A4-wide sheet.
        await page.setViewportSize({ width: 794, height: 1123 });
        return Buffer.from(await page.screenshot({ fullPage: options.fullPage ?? false, type: 'png' }));
      }),

    async close() {
      const b = browser;
      browser = undefined;
      current = undefined;
      if (b) await (await b.catch(() => undefined))?.close().catch(() => {});
    },
  };
}
