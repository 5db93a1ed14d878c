/**
 * The default demo (`npm start` with no options): the Yuzhong park's history goes through the
 * real gateway and ingest into the embedded store, the hotel's chiller retrofit is verified, and
 * the verified savings agree with the simulator's ground truth within their 90 % band.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { bearer, readLocalAdminKey } from '../support/api-keys.js';
import { freePort } from '../support/net.js';
import { startService, type Service } from '../support/processes.js';

let service: Service | undefined;
let dir: string | undefined;

afterAll(async () => {
  await service?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('backfills the demo park, verifies the hotel retrofit against the ground truth, then runs live', async () => {
  dir = await mkdtemp(join(tmpdir(), 'wattproof-demo-'));
  const [mqtt, api] = await Promise.all([freePort(), freePort()]);
  service = startService(['start', '--quiet'], { WATTPROOF_DATA_DIR: dir, GATEWAY_MQTT_PORT: String(mqtt), API_PORT: String(api) });
  await service.waitForOutput('Wattproof is running.');
  expect(service.output()).toContain('Yuzhong demo park: 5 buildings');
  await service.waitForOutput('M&V: yz-hotel chiller retrofit', 400_000);
  const line = service.output().split('\n').find((l) => l.startsWith('M&V: yz-hotel'))!;
  expect(line).toContain('verified savings');

  const key = await readLocalAdminKey(dir);
  const res = await fetch(`http://127.0.0.1:${api}/api/v1/meters/yuzhong/yz-hotel/elec-main/mv`, { headers: bearer(key) });
  expect(res.status).toBe(200);
  const rec = (await res.json()) as { body: { result: { status: string; savings: { avoided: number; uncertainty: Array<{ confidence: number; absolute: number }> } }; definition: { reporting: { start: string } } } };
  expect(rec.body.result.status).toBe('verified');

  // The ground truth the simulator wrote: the hotel's true savings since the retrofit.
  const truthFile = join(dir, 'ground-truth', 'ground-truth.json');
  expect(existsSync(truthFile)).toBe(true);
  const truth = JSON.parse(readFileSync(truthFile, 'utf8')) as { buildings: Array<{ building: string; months: Array<{ month: string; savingsKwh: number }> }> };
  const since = rec.body.definition.reporting.start.slice(0, 7);
  const trueSavings = truth.buildings.find((b) => b.building === 'yz-hotel')!.months.filter((m) => m.month >= since).reduce((a, m) => a + m.savingsKwh, 0);
  expect(trueSavings).toBeGreaterThan(0);
  const band = rec.body.result.savings.uncertainty.find((u) => u.confidence === 0.9)!.absolute;
  expect(Math.abs(rec.body.result.savings.avoided - trueSavings)).toBeLessThanOrEqual(band);

  // Sub-meters by end use and the weather station are registered and have data.
  const meters = (await (await fetch(`http://127.0.0.1:${api}/api/v1/meters?site=yuzhong&building=yz-hotel`, { headers: bearer(key) })).json()) as { meters: Array<{ meter: string; endUse?: string }> };
  expect(meters.meters.map((m) => m.meter).sort()).toEqual(['elec-hvac', 'elec-lighting', 'elec-main', 'elec-power', 'elec-special']);
  await service.stop('SIGTERM');
  expect(service.output()).toContain('Wattproof stopped.');
}, 600_000);
