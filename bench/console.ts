/**
 * `npm run bench -- console [options]`: what the web console costs with a year of hourly data.
 *
 * One building with a main meter and end-use sub-meters, a year of hourly interval readings each,
 * in the embedded DuckDB store (a temp directory). The API listens on 127.0.0.1 and is asked over
 * real HTTP (fetch) for what the building page loads; the reference is the store's own
 * `aggregate()` for the same series and year, so the table shows what the API adds on top of the
 * store. Also the size of the console's bundle, raw and gzipped.
 *
 * Options: `npm run bench -- console --help` (CLI below).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Registry } from 'prom-client';
import type { StoredReading } from '@wattproof/core';
import { createAccessControl, createApiServer } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createDuckDbReadingStore } from '@wattproof/ingest/stores';
import { defineBench, parseBenchArgs, showBenchHelp } from './lib/cli.js';

const HOUR = 3_600_000;
const SITE = 'bench';
const BUILDING = 'tower';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export const CLI = defineBench({
  name: 'console',
  summary: `What the web console costs with a year of hourly data: the API's answers to what the building page loads,
over real HTTP, against the embedded store's own aggregate() of the same series; and the console bundle's size.`,
  options: {
    meters: { type: 'string', placeholder: 'N', default: '5', description: 'meters of the building: a main meter and N - 1 end-use sub-meters' },
    days: { type: 'string', placeholder: 'D', default: '365', description: 'days of hourly history per meter' },
    runs: { type: 'string', placeholder: 'R', default: '5', description: 'timed runs of each request, after one warm-up' },
  },
});

export async function main(argv: string[]): Promise<void> {
  if (showBenchHelp(CLI, argv)) return;
  const values = parseBenchArgs(CLI, argv);
  const meters = Number(values.meters);
  const days = Number(values.days);
  const runs = Number(values.runs);
  const dir = await mkdtemp(join(tmpdir(), 'wattproof-bench-console-'));
  const readings = createDuckDbReadingStore({ path: join(dir, 'readings.duckdb') });
  const registry = createMemoryRegistryStore();
  await readings.init();
  await registry.init();
  try {
    const to = Math.floor(Date.now() / HOUR) * HOUR;
    const from = to - days * 24 * HOUR;
    await registry.upsertSite({ id: SITE, timezone: 'Asia/Shanghai' });
    await registry.upsertBuilding({ site: SITE, id: BUILDING, type: 'office_b', floorAreaM2: 40_000 });
    const ids = ['elec-main', ...Array.from({ length: meters - 1 }, (_, i) => `elec-sub${i + 1}`)];
    for (const [i, meter] of ids.entries()) {
      await registry.upsertMeter({ site: SITE, building: BUILDING, meter, quantity: 'electricity', ...(i > 0 ? { parent: 'elec-main', endUse: ['hvac', 'lighting_sockets', 'power', 'special'][(i - 1) % 4]! } : {}) });
      const batch: StoredReading[] = [];
      for (let t = from; t < to; t += HOUR) {
        const h = new Date(t + 8 * HOUR).getUTCHours();
        batch.push({ site: SITE, building: BUILDING, meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts: t, value: (i === 0 ? 400 : 80) * (h >= 8 && h < 20 ? 1 : 0.35) + (t % 7), intervalS: 3600 });
      }
      await readings.write(batch);
    }
    // Every data route needs an API key (docs/access.md): the bench reads as an admin.
    const { key } = await createAccessControl({ registry }).createKey({ role: 'admin', label: 'console bench', createdBy: 'bench' });
    const app = await createApiServer({ readings, registry, metrics: new Registry() });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

    const rows: Array<{ what: string; ms: number; bytes: number | null }> = [];
    async function time(what: string, fn: () => Promise<number | null>): Promise<void> {
      await fn();
      const ms: number[] = [];
      let bytes: number | null = null;
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        bytes = await fn();
        ms.push(performance.now() - t0);
      }
      rows.push({ what, ms: median(ms), bytes });
    }
    const get = async (path: string) => {
      const res = await fetch(base + path, { headers: { authorization: `Bearer ${key}` } });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return (await res.arrayBuffer()).byteLength;
    };
    const q = `from=${from}&to=${to}`;
    await time(`reference: store aggregate(), 1h buckets, ${meters} series x ${days} d`, async () => {
      for (const meter of ids) await readings.aggregate({ site: SITE, building: BUILDING, meter, quantity: 'electricity', kind: 'interval', from, to, bucket: '1h', tz: 'Asia/Shanghai' });
      return null;
    });
    await time(`GET timeseries bucket=1h (heat map, ${meters} meters)`, () => get(`/api/v1/buildings/${SITE}/${BUILDING}/timeseries?bucket=1h&${q}`));
    await time('GET timeseries bucket=1h, main meter only', () => get(`/api/v1/buildings/${SITE}/${BUILDING}/timeseries?bucket=1h&meters=elec-main&${q}`));
    await time('GET timeseries bucket=1d (end uses, 12 months)', () => get(`/api/v1/buildings/${SITE}/${BUILDING}/timeseries?bucket=1d&${q}`));
    await time('GET building overview', () => get(`/api/v1/buildings/${SITE}/${BUILDING}/overview`));
    await time('GET coverage bucket=1d (data quality)', () => get(`/api/v1/quality/coverage?site=${SITE}&building=${BUILDING}&bucket=1d&${q}`));
    await time('GET portfolio summary', () => get('/api/v1/portfolio/summary'));
    const page = await (await fetch(`${base}/`)).text();
    const script = /src="(\/console\/[^"]+\.js)"/.exec(page)?.[1];
    const js = script ? Buffer.from(await (await fetch(base + script)).arrayBuffer()) : Buffer.alloc(0);
    await app.close();

    const w = Math.max(...rows.map((r) => r.what.length));
    process.stdout.write(`\nconsole with ${ids.length} meters x ${days} days of hourly readings (${(ids.length * days * 24).toLocaleString('en-US')} readings), DuckDB, median of ${runs} runs over HTTP on 127.0.0.1\n\n`);
    process.stdout.write(`${'request'.padEnd(w)} | median ms | response bytes\n${'-'.repeat(w)}-|-----------|---------------\n`);
    for (const r of rows) process.stdout.write(`${r.what.padEnd(w)} | ${r.ms.toFixed(1).padStart(9)} | ${r.bytes === null ? '' : r.bytes.toLocaleString('en-US').padStart(14)}\n`);
    process.stdout.write(`\nconsole bundle ${script ?? '(not found)'}: ${js.length.toLocaleString('en-US')} bytes, ${gzipSync(js).length.toLocaleString('en-US')} gzipped\n`);
  } finally {
    await readings.close();
    await registry.close();
    await rm(dir, { recursive: true, force: true });
  }
}
