/**
 * The web console in a real headless Chromium against the real pipeline: `wattproof start` as a
 * child process (gateway, ingest, embedded stores, API, minimal simulator) on free loopback
 * ports in a temporary data directory. Readings and a rejected message are published over real
 * MQTT. Without a key the console shows the sign-in and requests no data; the address
 * `wattproof start` prints signs in through the URL fragment (`/#key=…`), and every API request —
 * the live stream too — then carries the key in the Authorization header, never in a URL.
 * Screenshots go to test-artifacts/browser/.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Request } from 'playwright-core';
import { bearer, readLocalAdminKey } from '../support/api-keys.js';
import { chromiumAvailable, launchChromium, screenshot, watchPage } from '../support/browser.js';
import { connectClient, waitFor } from '../support/mqtt.js';
import { freePort } from '../support/net.js';
import { startService, type Service } from '../support/processes.js';

const SITE = 'yuzhong';
let service: Service | undefined;
let dir: string | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
let base = '';
let mqttUrl = '';
/** Console errors, page errors and failed requests of the main page, for the whole run. */
let seen: string[] = [];
/** The local admin key and the sign-in address `wattproof start` printed. */
let adminKey = '';
let signInUrl = '';
/** Every request of the main page: URL and Authorization header. */
const requests: Array<{ url: string; auth: string | undefined }> = [];

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const api = async (path: string): Promise<Json> => (await (await fetch(`${base}${path}`, { headers: bearer(adminKey) })).json()) as Json;

/** Publishes one readings message as an anonymous client (the test stack allows it) and waits for PUBACK. */
async function publish(topic: string, payload: unknown): Promise<void> {
  const client = await connectClient(mqttUrl, { clientId: `browser-test-${Math.random().toString(36).slice(2)}` });
  try {
    await client.publishAsync(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

/** Non-blank pixels of the first canvas matching `selector` (a drawn chart has thousands). */
function paintedPixels(selector: string): Promise<number> {
  return page.evaluate(`(() => {
    const c = document.querySelector(${JSON.stringify(selector)});
    if (!c) return -1;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  })()`);
}

const points = async (chart: string) => Number(await page.locator(`[data-chart="${chart}"]`).first().getAttribute('data-points'));

beforeAll(async () => {
  if (!chromiumAvailable()) throw new Error('Chromium is not installed at /usr/bin/chromium (CHROMIUM_PATH): apt-get install chromium');
  dir = await mkdtemp(join(tmpdir(), 'wattproof-browser-'));
  const [mqtt, http, gatewayHttp] = await Promise.all([freePort(), freePort(), freePort()]);
  mqttUrl = `mqtt://127.0.0.1:${mqtt}`;
  base = `http://127.0.0.1:${http}`;
  // Hourly readings with three days of history: the heat map has data, and nothing the test
  // publishes is overtaken by a simulated reading while it checks.
  service = startService(['start', '--buildings', '2', '--interval-s', '3600', '--backfill-hours', '72', '--quiet'], {
    WATTPROOF_DATA_DIR: dir,
    GATEWAY_MQTT_PORT: String(mqtt),
    GATEWAY_HTTP_PORT: String(gatewayHttp),
    GATEWAY_ALLOW_ANONYMOUS: 'true',
    API_PORT: String(http),
  });
  await service.waitForOutput('Wattproof is running.', 60_000);
  adminKey = await readLocalAdminKey(dir);
  signInUrl = /Web console\s+(\S+)/.exec(service.output())![1]!;
  await waitFor(
    async () => {
      const p = await api('/api/v1/portfolio/summary');
      return p.sites?.[0]?.buildings?.filter((b: Json) => b.liveKw !== null && b.coverage30d > 0).length === 2;
    },
    90_000,
    'both simulated buildings with readings',
  );
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: 'zh-CN' });
  page = await context.newPage();
  seen = watchPage(page);
  page.on('request', (r: Request) => requests.push({ url: r.url(), auth: r.headers()['authorization'] }));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('web console in Chromium', () => {
  it('without a key shows the sign-in, not data, and requests nothing from the API', async () => {
    await page.goto(`${base}/#/buildings/${SITE}/b01`);
    await page.locator('[data-needs-sign-in]').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-chart], .tile').count()).toBe(0);
    await page.goto(`${base}/`);
    await page.locator('[data-needs-sign-in]').waitFor();
    expect(await page.locator('.tile').count()).toBe(0);
    expect(await page.locator('[data-sign-in]').count()).toBeGreaterThan(0);
    expect(requests.filter((r) => new URL(r.url).pathname.startsWith('/api/'))).toEqual([]);
    await screenshot(page, 'sign-in');
  });

  it('signs in through the address wattproof start prints: the key leaves the address bar for the tab only', async () => {
    expect(signInUrl).toBe(`${base}/#key=${adminKey}`);
    await page.goto(signInUrl);
    await page.locator('[data-account="admin"]').waitFor({ timeout: 30_000 });
    await page.locator('.tile[data-building="b01"]').waitFor({ timeout: 30_000 });
    // Gone from the address bar and from the history entry; kept in sessionStorage (this tab) only.
    expect(page.url()).toBe(`${base}/`);
    expect(await page.evaluate('location.hash')).toBe('');
    expect(await page.evaluate(`sessionStorage.getItem('wattproof.apiKey') === ${JSON.stringify(adminKey)} && localStorage.getItem('wattproof.apiKey') === null`)).toBe(true);
    // No request ever carried the key in its URL; every API request carried it in the header.
    expect(requests.filter((r) => r.url.includes(adminKey))).toEqual([]);
    const apiRequests = requests.filter((r) => new URL(r.url).pathname.startsWith('/api/'));
    expect(apiRequests.length).toBeGreaterThan(0);
    for (const r of apiRequests) expect(r.auth, r.url).toBe(`Bearer ${adminKey}`);
  });

  it('the portfolio at / lists the simulated buildings with their live power', async () => {
    await page.goto(`${base}/`);
    await page.locator('.tile[data-building="b01"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await page.locator('h1').textContent()).toBe('资产组合');
    const tiles = await page.locator('.tile').evaluateAll((els) => els.map((e) => e.getAttribute('data-building')));
    expect(tiles).toEqual(['b01', 'b02']);
    const kw = Number(await page.locator('.tile[data-building="b01"] [data-live-kw]').getAttribute('data-live-kw'));
    expect(kw).toBeGreaterThan(0);
    await screenshot(page, 'portfolio');
  });

  it('keyboard navigation: the skip link comes first and Tab reaches the building link, Enter opens it', async () => {
    await page.goto(`${base}/`);
    await page.locator('.tile[data-building="b01"]').waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement.className')).toBe('skip-link');
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = (await page.evaluate(`document.activeElement.getAttribute('href')`)) === `#/buildings/${SITE}/b01`;
    }
    expect(reached).toBe(true);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/#/buildings/${SITE}/b01`);
    await page.locator('[data-chart="live"]').waitFor();
  });

  it('a building page (deep link, also after a reload) draws its charts with data', async () => {
    await page.goto(`${base}/#/buildings/${SITE}/b01`);
    await page.reload();
    for (const chart of ['live', 'end-use', 'heatmap']) await page.locator(`[data-chart="${chart}"]`).waitFor({ timeout: 30_000 });
    expect(await points('live')).toBeGreaterThan(0);
    // Three days of hourly history.
    expect(await points('end-use')).toBeGreaterThanOrEqual(3);
    expect(await points('heatmap')).toBeGreaterThanOrEqual(48);
    expect(await paintedPixels('[data-chart="live"] canvas')).toBeGreaterThan(1000);
    expect(await paintedPixels('[data-chart="end-use"] canvas')).toBeGreaterThan(1000);
    expect(await paintedPixels('[data-chart="heatmap"] canvas')).toBeGreaterThan(1000);
    // Minimal simulator: no M&V definition, so the section says so instead of drawing.
    await page.getByText('该建筑尚无 M&V 结果。').waitFor();
    await screenshot(page, 'building');
  });

  it('a reading published over MQTT appears on the open page without a reload', async () => {
    await page.goto(`${base}/#/buildings/${SITE}/b01`);
    await page.locator('[data-chart="live"]').waitFor();
    await page.evaluate('window.__noReload = true');
    const before = await points('live');
    const ts = Math.floor(Date.now() / 60_000) * 60_000 - 60_000;
    // 1.2345 kWh in 60 s is 74.07 kW.
    await publish(`wattproof/v1/${SITE}/b01/elec-main/readings`, { seq: 1, readings: [{ ts: new Date(ts).toISOString(), quantity: 'electricity', unit: 'kWh', kind: 'interval', value: 1.2345, intervalS: 60 }] });
    // Polled from the test, not with page.waitForFunction: the console's CSP (no 'unsafe-eval') forbids evaluating strings in the page.
    await expect.poll(async () => Math.abs(Number(await page.locator('main [data-live-kw]').getAttribute('data-live-kw')) - 74.07) < 1e-6, { timeout: 20_000 }).toBe(true);
    await expect.poll(() => points('live'), { timeout: 5_000 }).toBe(before + 1);
    expect(await page.evaluate('window.__noReload')).toBe(true);
    expect(await page.locator('main [data-live-kw] strong').textContent()).toBe('74.1');
    // It came over the live stream, read with fetch and the key in the Authorization header.
    const streams = requests.filter((r) => new URL(r.url).pathname === '/api/v1/stream');
    expect(streams.length).toBeGreaterThan(0);
    for (const r of streams) expect(r.auth).toBe(`Bearer ${adminKey}`);
  });

  it('"Download CSV" gives exactly the chart\'s rows', async () => {
    // The same URL as before: reload, so the charts hold what the server has now.
    await page.goto(`${base}/#/buildings/${SITE}/b01`);
    await page.reload();
    await page.locator('[data-chart="heatmap"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-chart="live"][data-points]:not([data-points="0"])').waitFor();
    const live = await points('live');
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('[data-csv="live"]').click()]);
    const rows = (await readFile((await download.path())!, 'utf8')).trimEnd().split('\r\n');
    expect(download.suggestedFilename()).toBe(`${SITE}-b01-elec-main-live.csv`);
    expect(rows[0]).toBe('time,elec-main power (kW)');
    expect(rows).toHaveLength(live + 1);
    expect(rows.at(-1)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z,74\.07\d*$/);

    const [hm] = await Promise.all([page.waitForEvent('download'), page.locator('[data-csv="heatmap"]').click()]);
    const hourly = (await readFile((await hm.path())!, 'utf8')).trimEnd().split('\r\n');
    expect(hourly[0]).toBe('time,electricity (kWh)');
    // The same hours the server has for the main meter.
    const ts = await api(`/api/v1/buildings/${SITE}/b01/timeseries?bucket=1h&meters=elec-main`);
    expect(hourly.length - 1).toBe(ts.time.length);
    expect(hourly[1]).toBe(`${new Date(ts.time[0]).toISOString()},${ts.series[0].values[0]}`);
  });

  it('switches to English and back; the choice survives a reload', async () => {
    await page.goto(`${base}/#/buildings/${SITE}/b01`);
    await page.locator('[data-chart="live"]').waitFor();
    await page.locator('[data-lang-switch]').click();
    await page.locator('html[lang="en"]').waitFor({ state: 'attached' });
    expect(await page.locator('nav.main-nav').textContent()).toContain('Portfolio');
    expect(await page.locator('[data-chart="live"] h3').textContent()).toContain('Live power of the main meter');
    await page.reload();
    await page.locator('[data-chart="live"]').waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.locator('[data-chart="heatmap"]').waitFor({ timeout: 30_000 });
    await screenshot(page, 'building-en');
    await page.locator('[data-lang-switch]').click();
    await page.locator('html[lang="zh-CN"]').waitFor({ state: 'attached' });
    expect(await page.locator('nav.main-nav').textContent()).toContain('资产组合');
  });

  it('data quality: coverage per meter and a rejected message with its reason', async () => {
    await publish(`wattproof/v1/${SITE}/b02/elec-main/readings`, { seq: 2, readings: [{ ts: new Date().toISOString(), quantity: 'electricity', unit: 'kW', kind: 'interval', value: 1, intervalS: 60 }] });
    await waitFor(async () => (await api('/api/v1/dead-letters')).total > 0, 20_000, 'the dead letter');
    await page.goto(`${base}/#/quality`);
    await page.locator('[data-chart="coverage"]').waitFor({ timeout: 30_000 });
    expect(await points('coverage')).toBeGreaterThan(0);
    expect(await paintedPixels('[data-chart="coverage"] canvas')).toBeGreaterThan(1000);
    await page.locator('table.dead-letters').getByText('CONTRACT_UNIT_INVALID').first().waitFor({ timeout: 10_000 });
    await screenshot(page, 'quality');
  });

  it('alerts: a list when the alert service runs, a plain notice when it does not', async () => {
    const settings = JSON.parse(/<script id="wattproof-settings" type="application\/json">(.*?)<\/script>/.exec(await (await fetch(`${base}/`)).text())![1]!);
    await page.goto(`${base}/#/alerts`);
    if (settings.alerts) {
      await page.locator('main table, main p:has-text("没有告警。")').first().waitFor({ timeout: 10_000 });
    } else {
      await page.locator('[data-no-alert-service]').waitFor();
    }
    await screenshot(page, 'alerts');
  });

  it('works at 375 px: no horizontal scrolling, charts drawn', async () => {
    const phone = await context.newPage();
    const seen = watchPage(phone);
    await phone.setViewportSize({ width: 375, height: 800 });
    // A new tab has no key (sessionStorage is per tab): it signs in through the printed address.
    await phone.goto(signInUrl);
    await phone.locator('.tile').first().waitFor({ timeout: 30_000 });
    await phone.goto(`${base}/#/buildings/${SITE}/b01`);
    await phone.locator('[data-chart="heatmap"]').waitFor({ timeout: 30_000 });
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await screenshot(phone, 'building-375');
    await phone.goto(`${base}/#/`);
    await phone.locator('.tile').first().waitFor();
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);
    await screenshot(phone, 'portfolio-375');
    await phone.close();
    expect(seen).toEqual([]);
  });

  it('logged no console error and no page error during the whole run', () => {
    expect(seen).toEqual([]);
  });
});
