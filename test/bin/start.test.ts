/** `wattproof start` (what `npm start` runs) on embedded defaults: readings reach the API. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { waitFor } from '../support/mqtt.js';
import { bearer, readLocalAdminKey } from '../support/api-keys.js';
import { freePort } from '../support/net.js';
import { startService, type Service } from '../support/processes.js';

let service: Service | undefined;
let dir: string | undefined;

afterAll(async () => {
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('starts gateway, ingest, API and simulator in one process and serves readings within a minute', async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-start-'));
  const [mqtt, api] = await Promise.all([freePort(), freePort()]);
  service = startService(['start', '--buildings', '2', '--backfill-hours', '2', '--quiet'], {
    WATTPROOF_DATA_DIR: dir,
    GATEWAY_MQTT_PORT: String(mqtt),
    API_PORT: String(api),
  });
  await service.waitForOutput('Wattproof is running.');
  expect(service.output()).toContain(`mqtt://127.0.0.1:${mqtt}`);
  expect(service.output()).toContain(`http://127.0.0.1:${api}`);
  // The console address signs in with the local admin key, carried in the URL fragment (never sent to the server).
  const key = await readLocalAdminKey(dir);
  expect(service.output()).toContain(`Web console    http://127.0.0.1:${api}/#key=${key}`);
  expect((await fetch(`http://127.0.0.1:${api}/api/v1/latest`)).status).toBe(401);
  const latest = async () => ((await (await fetch(`http://127.0.0.1:${api}/api/v1/latest`, { headers: bearer(key) })).json()) as { readings: unknown[] }).readings.length;
  // 2 buildings x (electricity, gas register + derived gas intervals, temperature) = 8 series.
  await waitFor(async () => (await latest()) === 8, 60_000, 'latest readings of every series');
  const health = (await (await fetch(`http://127.0.0.1:${api}/health`)).json()) as { status: string };
  expect(health.status).toBe('ok');
  await service.stop('SIGTERM');
  expect(service.output()).toContain('Wattproof stopped.');
  expect(service.child.exitCode).toBe(0);
}, 120_000);
