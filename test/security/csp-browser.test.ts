/**
 * The Content-Security-Policy in a real headless Chromium: the console at / and Swagger UI at
 * /docs render under their policies with no CSP violation (Chromium reports each as a console
 * error) and no failed request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { createApiServer } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createMemoryReadingStore } from '@wattproof/ingest/stores';
import { chromiumAvailable, launchChromium, watchPage } from '../support/browser.js';

let app: FastifyInstance;
let browser: Browser | undefined;
let base = '';

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Chromium is not installed at /usr/bin/chromium (CHROMIUM_PATH): apt-get install chromium');
  const registry = createMemoryRegistryStore();
  await registry.init();
  app = await createApiServer({ readings: createMemoryReadingStore(), registry, metrics: new Registry() });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  browser = await launchChromium();
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('CSP in Chromium', () => {
  it('the console renders under its policy with no violation', async () => {
    const page = await browser!.newPage();
    const problems = watchPage(page);
    const res = await page.goto(`${base}/`);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.locator('nav.main-nav').waitFor({ timeout: 30_000 });
    // An inline script injected into the page must be blocked: the policy is really enforced.
    await page.evaluate(`(() => { const s = document.createElement('script'); s.textContent = 'window.__inlineRan = true'; document.body.appendChild(s); })()`);
    expect(await page.evaluate('window.__inlineRan === true')).toBe(false);
    const violations = problems.filter((p) => /Content Security Policy/.test(p));
    expect(violations.length).toBe(1); // exactly the injected script above
    expect(problems.filter((p) => !/Content Security Policy/.test(p))).toEqual([]);
    await page.close();
  }, 60_000);

  it('Swagger UI at /docs renders under its own policy with no violation', async () => {
    const page = await browser!.newPage();
    const problems = watchPage(page);
    await page.goto(`${base}/docs`);
    await page.locator('.swagger-ui .info .title').waitFor({ timeout: 30_000 });
    expect(await page.locator('.swagger-ui .info .title').textContent()).toContain('Wattproof API');
    await page.locator('.opblock').first().waitFor();
    expect(problems).toEqual([]);
    await page.close();
  }, 60_000);
});
