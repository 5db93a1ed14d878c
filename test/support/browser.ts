/**
 * A real Chromium for browser tests: Debian's /usr/bin/chromium (CHROMIUM_PATH overrides) driven
 * headless by playwright-core, on a fresh temporary profile that playwright creates and deletes.
 * `watchPage` collects every console error and uncaught page error so a test can assert none.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './processes.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Flags for a quiet, offline, reproducible headless run (the profile directory comes from playwright). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

/** Where browser tests save their screenshots. */
export const BROWSER_ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'browser');

export const chromiumAvailable = (): boolean => existsSync(CHROMIUM_PATH);

export function launchChromium(): Promise<Browser> {
  // launch() gives every browser its own temporary --user-data-dir and removes it on close.
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** Console errors and page errors seen on a page, as text. */
export function watchPage(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()} (${msg.location().url ?? ''})`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('requestfailed', (req) => {
    // An EventSource or fetch aborted by navigation is not a failure of the page.
    const failure = req.failure()?.errorText ?? '';
    if (!/ERR_ABORTED/.test(failure)) problems.push(`requestfailed: ${req.url()} ${failure}`);
  });
  return problems;
}

/** Saves a full-page PNG under test-artifacts/browser/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(BROWSER_ARTIFACTS, { recursive: true });
  const path = join(BROWSER_ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
