/**
 * The monthly operator report on a building with known totals: the demo park's class B office
 * driven by the simulator's building model (hourly end-use loads on the Chongqing typical year),
 * written straight into the stores with a main meter at 15 minutes in the report month, a gap in
 * a sub-meter, dead letters, register events and a stored M&V result. The report's figures must
 * equal what was written; the HTML carries SVG charts in both languages; the PDF is printed by a
 * real Chromium through playwright-core (page 1 also saved as PNG under test-artifacts/report/);
 * the API serves all three formats; the CLI writes HTML and PDF from the embedded stores.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { createMvJobs, eui, referenceData, selectEmissionFactor } from '@wattproof/analytics';
import type { Meter, NewDeadLetter, ReadingStore, RegisterEvent, RegistryStore, StoredReading } from '@wattproof/core';
import { createApiServer, createMonthlyReport, createPdfRenderer, renderMonthlyReportHtml, reportPlugin, type MonthlyReport, type PdfRenderer } from '@wattproof/dashboards';
import { createMemoryRegistryStore } from '@wattproof/gateway/registry';
import { createDuckDbReadingStore, createMemoryReadingStore } from '@wattproof/ingest';
import { chongqingDemoPark, chongqingTypicalYear, createBuildingModel } from '@wattproof/simulators';
import { openStores } from '../../bin/runtime.js';
import { createTestKey, keyedInject } from '../support/api-keys.js';
import { REPO_ROOT, runCli } from '../support/processes.js';

const HOUR = 3_600_000;
const QUARTER = 900_000;
const SITE = 'yuzhong';
const BUILDING = 'yz-office-b';
const MONTH = '2026-11';
/** "Now" of the demo park and of the report: 10 Dec 2026, 12:00 local. */
const NOW = Date.parse('2026-12-10T12:00:00+08:00');
const local = (s: string) => Date.parse(`${s}+08:00`);
const MONTH_FROM = local('2026-11-01T00:00:00');
const MONTH_TO = local('2026-12-01T00:00:00');
const HISTORY_FROM = local('2024-10-01T00:00:00');
const CHROMIUM = process.env.REPORT_CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'report');

const SUB_METERS = [
  { meter: 'elec-hvac', endUse: 'hvac', name: 'HVAC (chillers, AHUs)' },
  { meter: 'elec-lighting', endUse: 'lighting_sockets', name: 'Lighting and sockets' },
  { meter: 'elec-power', endUse: 'power', name: 'Lifts and pumps' },
  { meter: 'elec-special', endUse: 'special', name: 'Data room' },
] as const;
/** The HVAC sub-meter misses 6 hours on 10 Nov (08:00–14:00 local). */
const HVAC_GAP = { from: local('2026-11-10T08:00:00'), to: local('2026-11-10T14:00:00') };
/** The main meter misses one hour on 20 Nov (02:00–03:00 local), i.e. four 15-minute intervals. */
const MAIN_GAP = { from: local('2026-11-20T02:00:00'), to: local('2026-11-20T03:00:00') };
/** Share of each quarter of an hour in the main meter's 15-minute readings (report month). */
const QUARTER_SHAPE = [0.22, 0.24, 0.26, 0.28];

interface Known {
  /** meter → local month → kWh written. */
  readonly monthly: Map<string, Map<string, number>>;
  readonly peak: { kw: number; ts: number };
  readonly readingsInMonth: Map<string, number>;
}

function monthOf(ts: number): string {
  return new Date(ts + 8 * HOUR).toISOString().slice(0, 7);
}

/** Hourly simulated loads of the demo office from `from` to `to`, as readings; the totals written. */
function simulate(from: number, to: number): { readings: StoredReading[]; known: Known } {
  const spec = chongqingDemoPark(NOW).find((b) => b.id === BUILDING)!;
  const weather = chongqingTypicalYear();
  const model = createBuildingModel(spec, weather);
  const readings: StoredReading[] = [];
  const monthly = new Map<string, Map<string, number>>();
  const readingsInMonth = new Map<string, number>();
  const add = (meter: string, ts: number, value: number, intervalS: number) => {
    readings.push({ site: SITE, building: BUILDING, meter, quantity: 'electricity', kind: 'interval', unit: 'kWh', ts, value, intervalS });
    const m = monthly.get(meter) ?? new Map<string, number>();
    m.set(monthOf(ts), (m.get(monthOf(ts)) ?? 0) + value);
    monthly.set(meter, m);
    if (ts >= MONTH_FROM && ts < MONTH_TO) readingsInMonth.set(meter, (readingsInMonth.get(meter) ?? 0) + 1);
  };
  let peak = { kw: 0, ts: 0 };
  for (let t = from; t < to; t += HOUR) {
    const h = model.hour(t);
    if (t >= MONTH_FROM && t < MONTH_TO) {
      QUARTER_SHAPE.forEach((share, q) => {
        const ts = t + q * QUARTER;
        if (ts >= MAIN_GAP.from && ts < MAIN_GAP.to) return;
        const value = h.main * share;
        add('elec-main', ts, value, 900);
        if (value * 4 > peak.kw) peak = { kw: value * 4, ts };
      });
    } else {
      add('elec-main', t, h.main, 3600);
    }
    for (const s of SUB_METERS) {
      if (s.meter === 'elec-hvac' && t >= HVAC_GAP.from && t < HVAC_GAP.to) continue;
      add(s.meter, t, h.endUses[s.endUse], 3600);
    }
    readings.push({ site: SITE, building: 'weather', meter: 'station', quantity: 'outdoor_temperature', kind: 'instant', unit: '°C', ts: t, value: weather.at(t).temperatureC });
  }
  return { readings, known: { monthly, peak, readingsInMonth } };
}

async function seedRegistry(registry: RegistryStore): Promise<void> {
  const spec = chongqingDemoPark(NOW).find((b) => b.id === BUILDING)!;
  await registry.upsertSite({ id: SITE, name: 'Yuzhong demo park, Chongqing', timezone: 'Asia/Shanghai', latitude: 29.557, longitude: 106.577 });
  await registry.upsertBuilding({ site: SITE, id: BUILDING, name: spec.name!, type: 'office_b', floorAreaM2: spec.floorAreaM2 });
  await registry.upsertBuilding({ site: SITE, id: 'weather', name: 'Weather station' });
  const meters: Meter[] = [
    { site: SITE, building: BUILDING, meter: 'elec-main', name: 'Main incomer', quantity: 'electricity' },
    ...SUB_METERS.map((s) => ({ site: SITE, building: BUILDING, meter: s.meter, name: s.name, quantity: 'electricity' as const, endUse: s.endUse, parent: 'elec-main' })),
    { site: SITE, building: 'weather', meter: 'station', quantity: 'outdoor_temperature' },
  ];
  for (const m of meters) await registry.upsertMeter(m);
  const letter = (receivedAtMs: number, code: string, building = BUILDING): NewDeadLetter => ({
    receivedAtMs,
    source: 'ingest',
    topic: `wattproof/v1/${SITE}/${building}/elec-main/readings`,
    code,
    reason: 'test',
    payload: '{}',
    payloadEncoding: 'utf8',
    payloadBytes: 2,
    truncated: false,
  });
  await registry.addDeadLetters([
    letter(local('2026-10-31T23:59:00'), 'CONTRACT_SCHEMA_INVALID'), // October: not counted
    letter(local('2026-11-03T10:00:00'), 'CONTRACT_SCHEMA_INVALID'),
    letter(local('2026-11-04T10:00:00'), 'CONTRACT_UNIT_INVALID'),
    letter(local('2026-11-15T10:00:00'), 'CONTRACT_SCHEMA_INVALID'),
    letter(local('2026-11-15T11:00:00'), 'CONTRACT_SCHEMA_INVALID', 'yz-mall'), // another building
    letter(local('2026-12-01T00:00:00'), 'CONTRACT_SCHEMA_INVALID'), // December: not counted
  ]);
  const event = (ts: number, type: RegisterEvent['type']): RegisterEvent => ({ site: SITE, building: BUILDING, meter: 'elec-main', quantity: 'electricity', ts, type, previousValue: 99_990, value: 12, detectedAtMs: ts });
  await registry.addRegisterEvents([event(local('2026-10-20T00:00:00'), 'reset'), event(local('2026-11-12T06:00:00'), 'rollover'), event(local('2026-11-25T09:30:00'), 'replacement')]);
}

const ALERTS = [{ rule: 'low_coverage', severity: 'warning', title: 'HVAC sub-meter coverage below 99 %', titleZh: '空调分项表数据完整率低于 99 %', since: '2026-11-10T00:00:00Z' }];

let readings: ReadingStore;
let registry: RegistryStore;
let known: Known;
let written: StoredReading[];
let mvResultId: string;

beforeAll(async () => {
  readings = createMemoryReadingStore();
  registry = createMemoryRegistryStore();
  await readings.init();
  await registry.init();
  await seedRegistry(registry);
  const sim = simulate(HISTORY_FROM, MONTH_TO);
  known = sim.known;
  written = sim.readings;
  await readings.write(written);
  const jobs = createMvJobs({ readings, registry, clock: () => NOW });
  const timeline = { baseline: { start: '2024-10-01', end: '2025-10-01' }, reporting: { start: '2025-10-01', end: '2026-12-01' } };
  const rec = await jobs.run({ meter: { site: SITE, building: BUILDING, meter: 'elec-main' }, temperatureMeter: { site: SITE, building: 'weather', meter: 'station' }, model: 'caltrack-daily', ...timeline, building: { floorAreaM2: 46_000, type: 'office_b' } });
  mvResultId = rec.id;
}, 120_000);

afterAll(async () => {
  await readings?.close();
  await registry?.close();
});

const report = (lang: 'zh-CN' | 'en' = 'en', clock = NOW) => createMonthlyReport({ readings, registry, clock: () => clock, alerts: async () => ALERTS }, { site: SITE, building: BUILDING, month: MONTH, lang });

describe('the report model', () => {
  let model: MonthlyReport;
  beforeAll(async () => {
    model = await report('en');
  });

  it('describes the building and its meters', () => {
    expect(model.building).toMatchObject({ id: BUILDING, type: 'office_b', floorArea: { value: 46_000, unit: 'm²' } });
    expect(model.building.meters.map((m) => [m.meter, m.role])).toEqual([
      ['elec-hvac', 'sub'],
      ['elec-lighting', 'sub'],
      ['elec-main', 'main'],
      ['elec-power', 'sub'],
      ['elec-special', 'sub'],
    ]);
    expect(model.period).toMatchObject({ month: MONTH, timeZone: 'Asia/Shanghai', from: new Date(MONTH_FROM).toISOString(), to: new Date(MONTH_TO).toISOString(), inProgress: false, days: 30 });
  });

  it('gives each meter the energy written for the month, the previous month and the same month last year', () => {
    for (const meter of ['elec-main', ...SUB_METERS.map((s) => s.meter)]) {
      const row = model.energy.rows.find((r) => r.meter === meter)!;
      const k = known.monthly.get(meter)!;
      expect(row.unit).toBe('kWh');
      expect(row.month!.value, meter).toBeCloseTo(k.get(MONTH)!, 6);
      expect(row.previousMonth!.value, meter).toBeCloseTo(k.get('2026-10')!, 6);
      expect(row.sameMonthLastYear!.value, meter).toBeCloseTo(k.get('2025-11')!, 6);
      expect(row.changeVsPrevious!.value).toBeCloseTo((k.get(MONTH)! / k.get('2026-10')! - 1) * 100, 6);
      expect(row.changeVsLastYear!.unit).toBe('%');
    }
    const main = known.monthly.get('elec-main')!.get(MONTH)!;
    expect(model.energy.totalMain!.month!.value).toBeCloseTo(main, 6);
    const subs = SUB_METERS.reduce((a, s) => a + known.monthly.get(s.meter)!.get(MONTH)!, 0);
    expect(model.energy.unattributed!.value).toBeCloseTo(main - subs, 6);
    const hvac = model.energy.rows.find((r) => r.meter === 'elec-hvac')!;
    expect(hvac.share!.value).toBeCloseTo((known.monthly.get('elec-hvac')!.get(MONTH)! / main) * 100, 6);
  });

  it('finds the peak demand of the 15-minute main meter and when it happened', () => {
    expect(model.peak).toMatchObject({ basis: 'interval', intervalMinutes: 15, at: new Date(known.peak.ts).toISOString() });
    expect(model.peak!.demand.unit).toBe('kW');
    expect(model.peak!.demand.value).toBeCloseTo(known.peak.kw, 6);
    const average = known.monthly.get('elec-main')!.get(MONTH)! / (30 * 24);
    expect(model.peak!.average!.value).toBeCloseTo(average, 6);
    expect(model.peak!.loadFactor!.value).toBeCloseTo((average / known.peak.kw) * 100, 6);
  });

  it('reports coverage and gaps per meter, and the dead letters and register events of the month', () => {
    const q = (meter: string) => model.quality.meters.find((m) => m.meter === meter)!;
    expect(q('elec-hvac').coverage!.value).toBeCloseTo((714 / 720) * 100, 9);
    expect(q('elec-hvac')).toMatchObject({ readings: 714, gaps: 1, missing: { value: 6, unit: 'h' }, longestGap: { from: new Date(HVAC_GAP.from).toISOString(), duration: { value: 6, unit: 'h' } } });
    expect(q('elec-main').coverage!.value).toBeCloseTo((719 / 720) * 100, 9);
    expect(q('elec-main')).toMatchObject({ readings: 720 * 4 - 4, gaps: 1, missing: { value: 1, unit: 'h' } });
    expect(q('elec-lighting')).toMatchObject({ readings: 720, gaps: 0, coverage: { value: 100, unit: '%' } });
    expect(model.quality.deadLetters).toEqual({ count: 3, complete: true, byCode: [{ code: 'CONTRACT_SCHEMA_INVALID', count: 2 }, { code: 'CONTRACT_UNIT_INVALID', count: 1 }] });
    expect(model.quality.registerEvents.map((e) => e.type)).toEqual(['rollover', 'replacement']);
    expect(model.alerts).toEqual({ connected: true, available: true, items: ALERTS });
  });

  it('computes the rolling 12-month EUI against the GB/T 51161 quota with the analytics code', () => {
    const months = Array.from({ length: 12 }, (_, i) => `${i < 1 ? '2025-12' : `2026-${String(i).padStart(2, '0')}`}`);
    expect(months[11]).toBe(MONTH);
    const energy = months.reduce((a, m) => a + known.monthly.get('elec-main')!.get(m)!, 0);
    const expected = eui({ energyKwh: energy, windowDays: 365, floorAreaM2: 46_000, buildingType: 'office_b', quotas: referenceData().quotas.data });
    expect(model.eui.energy!.value).toBeCloseTo(energy, 6);
    expect(model.eui.value).toEqual({ value: expected.eui, unit: 'kWh/(m²·a)' });
    expect(model.eui.window).toEqual({ from: '2025-12-01', to: '2026-11-30', days: 365, annualised: false });
    expect(model.eui.quota).toMatchObject({ buildingType: 'office_b', constraint: { value: 110 }, guide: { value: 80 }, meetsConstraint: expected.quota!.meetsConstraint });
    expect(model.eui.trend).toHaveLength(12);
    expect(model.eui.trend[11]!.rolling!.value).toBeCloseTo(expected.eui, 9);
    expect(model.eui.trend[0]!.intensity!.value).toBeCloseTo(known.monthly.get('elec-main')!.get('2025-12')! / 46_000, 9);
  });

  it('takes the month and cumulative savings with their 90 % band from the latest M&V result', async () => {
    expect(model.savings).toHaveLength(1);
    const s = model.savings[0]!;
    const rec = await registry.getRecord(mvResultId);
    const result = (rec!.body as { result: { status: string; savings: { monthly: Array<{ period: string; avoided: number; uncertainty: { levels: Array<{ confidence: number; absolute: number }> } }>; cumulative: Array<{ period: string; avoided: number }> }; lineage: { digest: string } } }).result;
    const monthRow = result.savings.monthly.find((p) => p.period === MONTH)!;
    expect(s).toMatchObject({ meter: 'elec-main', resultId: mvResultId, status: result.status, lineageDigest: result.lineage.digest, method: { name: expect.any(String) } });
    expect(s.month!.avoided).toEqual({ value: monthRow.avoided, unit: 'kWh' });
    expect(s.month!.band90).toEqual({ value: monthRow.uncertainty.levels.find((l) => l.confidence === 0.9)!.absolute, unit: 'kWh' });
    expect(s.cumulative!.avoided.value).toBe(result.savings.cumulative.find((p) => p.period === MONTH)!.avoided);
    expect(s.cumulativeSeries.map((p) => p.period)).toEqual(result.savings.cumulative.map((p) => p.period));
    // The chiller retrofit saves energy: the verified figure is positive.
    expect(s.cumulative!.avoided.value).toBeGreaterThan(0);
  });

  it('converts the month\'s electricity to tCO2 with the factor in force and names it', () => {
    const ref = referenceData();
    const factor = selectEmissionFactor(ref.factors.data, { region: 'CN', basis: 'location', asOf: '2026-11-30' })!;
    expect(model.carbon.factor).toMatchObject({ id: factor.id, value: { value: factor.value, unit: 'kgCO₂/kWh' } });
    expect(model.carbon.table).toEqual(ref.factors.version);
    expect(model.carbon.emissionsMonth!.value).toBeCloseTo((known.monthly.get('elec-main')!.get(MONTH)! * factor.value) / 1000, 9);
    expect(model.carbon.avoidedMonth!.value).toBeCloseTo((model.savings[0]!.month!.avoided.value * factor.value) / 1000, 9);
  });

  it('covers a month in progress up to now', async () => {
    const midMonth = local('2026-11-16T00:00:00');
    const m = await report('en', midMonth);
    expect(m.period).toMatchObject({ inProgress: true, until: new Date(midMonth).toISOString() });
    const sum = written.filter((r) => r.meter === 'elec-lighting' && r.ts >= MONTH_FROM && r.ts < midMonth).reduce((a, r) => a + r.value, 0);
    expect(m.energy.rows.find((r) => r.meter === 'elec-lighting')!.month!.value).toBeCloseTo(sum, 6);
    expect(m.quality.meters.find((q) => q.meter === 'elec-lighting')!.coverage!.value).toBeCloseTo(100, 9);
  });

  it('refuses an invalid or future month and an unknown building with stable codes', async () => {
    await expect(createMonthlyReport({ readings, registry, clock: () => NOW }, { site: SITE, building: BUILDING, month: '2026-13' })).rejects.toMatchObject({ code: 'REPORT_MONTH_INVALID', statusCode: 400 });
    await expect(createMonthlyReport({ readings, registry, clock: () => NOW }, { site: SITE, building: BUILDING, month: '2027-01' })).rejects.toMatchObject({ code: 'REPORT_MONTH_INVALID' });
    await expect(createMonthlyReport({ readings, registry, clock: () => NOW }, { site: SITE, building: 'nope', month: MONTH })).rejects.toMatchObject({ code: 'REPORT_BUILDING_NOT_FOUND', statusCode: 404 });
  });

  it('gives the same figures on the embedded DuckDB store', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wattproof-report-duckdb-'));
    const duck = createDuckDbReadingStore({ path: join(dir, 'readings.duckdb') });
    try {
      await duck.init();
      // The report month and the two comparison months are enough for the energy table.
      await duck.write(written.filter((r) => r.ts >= local('2025-11-01T00:00:00')));
      const m = await createMonthlyReport({ readings: duck, registry, clock: () => NOW }, { site: SITE, building: BUILDING, month: MONTH, lang: 'en' });
      for (const row of model.energy.rows) {
        const other = m.energy.rows.find((r) => r.meter === row.meter)!;
        expect(other.month!.value, row.meter).toBeCloseTo(row.month!.value, 6);
        expect(other.previousMonth!.value, row.meter).toBeCloseTo(row.previousMonth!.value, 6);
        expect(other.sameMonthLastYear!.value, row.meter).toBeCloseTo(row.sameMonthLastYear!.value, 6);
      }
      expect(m.peak).toMatchObject({ demand: model.peak!.demand, at: model.peak!.at, basis: 'interval', intervalMinutes: 15 });
      expect(m.peak!.average!.value).toBeCloseTo(model.peak!.average!.value, 9);
      expect(m.quality.meters).toEqual(model.quality.meters);
      expect(m.daily.main.map((v) => v!.toFixed(6))).toEqual(model.daily.main.map((v) => v!.toFixed(6)));
    } finally {
      await duck.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the HTML document', () => {
  it('is self-contained with SVG charts, in Chinese and in English', async () => {
    const [zh, en] = await Promise.all([report('zh-CN'), report('en')]);
    const zhHtml = renderMonthlyReportHtml(zh);
    const enHtml = renderMonthlyReportHtml(en);
    for (const html of [zhHtml, enHtml]) {
      expect(html.startsWith('<!doctype html>')).toBe(true);
      const svgs = html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
      expect(svgs.length).toBeGreaterThanOrEqual(4); // daily, profile, EUI, savings
      for (const svg of svgs) expect(svg).toMatch(/<path d="M[\d.]+ [\d.]+L/);
      expect(html).toMatch(/@page\s*{\s*size: A4/);
      expect(html).toContain('counter(pages)');
      // Nothing is fetched: no scripts, no external stylesheets, images or fonts.
      expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\((?!#)|(?:href|src)="(?!#)|https?:\/\/(?!www\.w3\.org)/);
      expect(html).toContain(mvResultId);
      expect(html).toContain(zh.savings[0]!.lineageDigest);
    }
    expect(zhHtml).toContain('<html lang="zh-CN">');
    expect(zhHtml).toContain('建筑能源月度运行报告');
    expect(zhHtml).toContain('2026年11月');
    expect(zhHtml).toContain('空调分项表数据完整率低于 99 %');
    expect(zhHtml).toContain('照明插座');
    expect(enHtml).toContain('Monthly energy operations report');
    expect(enHtml).toContain('November 2026');
    expect(enHtml).toContain('Lighting and sockets');
    // Numbers formatted with Intl and units.
    const main = en.energy.totalMain!.month!.value;
    expect(enHtml).toContain(`${new Intl.NumberFormat('en', { maximumFractionDigits: 0 }).format(main)}\u00a0kWh`);
  });

  it('escapes registry text', async () => {
    const reg = createMemoryRegistryStore();
    await reg.upsertSite({ id: 'x', timezone: 'Asia/Shanghai' });
    await reg.upsertBuilding({ site: 'x', id: 'b', name: '<script>alert(1)</script>' });
    const m = await createMonthlyReport({ readings: createMemoryReadingStore(), registry: reg, clock: () => NOW }, { site: 'x', building: 'b', month: MONTH });
    const html = renderMonthlyReportHtml(m);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
    expect(m.peak).toBeNull();
    expect(m.energy.rows).toEqual([]);
  });
});

describe('the PDF', () => {
  let renderer: PdfRenderer;
  beforeAll(() => {
    renderer = createPdfRenderer({ REPORT_CHROMIUM_PATH: CHROMIUM });
  });
  afterAll(async () => {
    await renderer?.close();
  });

  it.skipIf(!HAVE_CHROMIUM)('is printed by Chromium: A4 pages, and page 1 saved as PNG for review', async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    for (const lang of ['zh-CN', 'en'] as const) {
      const html = renderMonthlyReportHtml(await report(lang));
      const pdf = await renderer.render(html);
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      const text = pdf.toString('latin1');
      const pages = text.match(/\/Type\s*\/Page(?![s\w])/g) ?? [];
      expect(pages.length).toBeGreaterThanOrEqual(3);
      // A4 is 595.3 × 841.9 pt.
      const box = /\/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/.exec(text);
      expect(box, 'MediaBox').not.toBeNull();
      expect(Number(box![1])).toBeCloseTo(595.3, 0);
      expect(Number(box![2])).toBeCloseTo(841.9, 0);
      await writeFile(join(ARTIFACTS, `monthly-${lang}.pdf`), pdf);
      const png = await renderer.screenshot(html);
      expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
      await writeFile(join(ARTIFACTS, `monthly-${lang}-page1.png`), png);
      await writeFile(join(ARTIFACTS, `monthly-${lang}-full.png`), await renderer.screenshot(html, { fullPage: true }));
      await writeFile(join(ARTIFACTS, `monthly-${lang}.html`), html);
    }
  }, 240_000);

  it('fails with REPORT_CHROMIUM_UNAVAILABLE when there is no browser', async () => {
    const none = createPdfRenderer({ REPORT_CHROMIUM_PATH: '/nonexistent/chromium' });
    await expect(none.render('<p>x</p>')).rejects.toMatchObject({ code: 'REPORT_CHROMIUM_UNAVAILABLE', statusCode: 503 });
    await none.close();
  });
});

describe('GET /api/v1/buildings/:site/:building/reports/monthly', () => {
  let app: FastifyInstance;
  /** app.inject with an admin key (who else may read a building's report: test/dashboards/access-matrix.test.ts). */
  let inject: ReturnType<typeof keyedInject>;
  beforeAll(async () => {
    app = await createApiServer({ readings, registry, metrics: new Registry(), clock: () => NOW }, { console: false });
    inject = keyedInject(app, await createTestKey(registry));
  });
  afterAll(async () => {
    await app?.close();
  });
  const url = (q: string) => `/api/v1/buildings/${SITE}/${BUILDING}/reports/monthly?${q}`;

  it('serves the HTML document (zh-CN by default) and the JSON model', async () => {
    const html = await inject({ method: 'GET', url: url(`month=${MONTH}`) });
    expect(html.statusCode).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain('<html lang="zh-CN">');
    expect(html.body).toMatch(/<svg/);
    const json = await inject({ method: 'GET', url: url(`month=${MONTH}&lang=en&format=json`) });
    expect(json.statusCode).toBe(200);
    const body = json.json() as MonthlyReport;
    expect(body.schema).toBe('wattproof.report.monthly/1');
    expect(body.energy.totalMain!.month!.value).toBeCloseTo(known.monthly.get('elec-main')!.get(MONTH)!, 6);
  });

  it('validates the month and names unknown buildings', async () => {
    const bad = await inject({ method: 'GET', url: url('month=2026-13') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('API_REQUEST_INVALID');
    const missing = await inject({ method: 'GET', url: `/api/v1/buildings/${SITE}/nope/reports/monthly?month=${MONTH}` });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('REPORT_BUILDING_NOT_FOUND');
    const future = await inject({ method: 'GET', url: url('month=2027-02') });
    expect(future.statusCode).toBe(400);
    expect(future.json().error.code).toBe('REPORT_MONTH_INVALID');
  });

  it('answers 503 REPORT_CHROMIUM_UNAVAILABLE with how to fix it when there is no Chromium', async () => {
    const bare = Fastify();
    bare.setValidatorCompiler(validatorCompiler);
    bare.setSerializerCompiler(serializerCompiler);
    await bare.register(reportPlugin, { readings, registry, clock: () => NOW, reportConfig: { REPORT_CHROMIUM_PATH: '/nonexistent/chromium' } });
    try {
      const res = await bare.inject({ method: 'GET', url: url(`month=${MONTH}&format=pdf`) });
      expect(res.statusCode).toBe(503);
      const err = res.json().error;
      expect(err.code).toBe('REPORT_CHROMIUM_UNAVAILABLE');
      expect(err.message).toContain('REPORT_CHROMIUM_PATH');
      expect(err.message).toContain('format=html');
    } finally {
      await bare.close();
    }
  });

  it.skipIf(!HAVE_CHROMIUM)('serves the PDF', async () => {
    const res = await inject({ method: 'GET', url: url(`month=${MONTH}&lang=en&format=pdf`) });
    expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toContain(`wattproof-${SITE}-${BUILDING}-${MONTH}.pdf`);
    expect(res.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  }, 120_000);
});

describe('wattproof report monthly', () => {
  /** The CLI runs on the real clock, so it reports a month that is over. */
  const CLI_MONTH = '2026-10';
  const CLI_TIMEOUT = 240_000;
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wattproof-report-cli-'));
    env = { WATTPROOF_DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent', READINGS_STORE: 'embedded', REGISTRY_STORE: 'embedded', REPORT_CHROMIUM_PATH: CHROMIUM };
    const stores = await openStores(env);
    try {
      await seedRegistry(stores.registry);
      await stores.readings.write(written.filter((r) => r.ts >= local('2026-10-01T00:00:00')));
    } finally {
      await stores.readings.close();
      await stores.registry.close();
    }
  }, 120_000);
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes the HTML report from the embedded stores', async () => {
    const out = join(dir, 'report.html');
    const r = await runCli(['report', 'monthly', '--site', SITE, '--building', BUILDING, '--month', CLI_MONTH, '--lang', 'en', '--out', out], env, CLI_TIMEOUT);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`wrote ${out} (html`);
    const html = await readFile(out, 'utf8');
    expect(html).toContain('Monthly energy operations report');
    expect(html).toMatch(/<svg/);
    const main = new Intl.NumberFormat('en', { maximumFractionDigits: 0 }).format(known.monthly.get('elec-main')!.get(CLI_MONTH)!);
    expect(html).toContain(`${main}\u00a0kWh`);
  }, CLI_TIMEOUT);

  it.skipIf(!HAVE_CHROMIUM)('writes the PDF report (format from the extension)', async () => {
    const out = join(dir, 'report.pdf');
    const r = await runCli(['report', 'monthly', '--site', SITE, '--building', BUILDING, '--month', CLI_MONTH, '--out', out], env, CLI_TIMEOUT);
    expect(r.code, r.stderr).toBe(0);
    const pdf = await readFile(out);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  }, CLI_TIMEOUT);

  it('explains its usage and refuses bad options with exit 2', async () => {
    const help = await runCli(['report', '--help'], env, CLI_TIMEOUT);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: wattproof report <kind>/);
    expect(help.stdout).toMatch(/^ {2}monthly +\S/m);
    const monthlyHelp = await runCli(['report', 'monthly', '--help'], env, CLI_TIMEOUT);
    expect(monthlyHelp.code).toBe(0);
    expect(monthlyHelp.stdout).toContain('wattproof report monthly');
    const bad = await runCli(['report', 'monthly', '--site', SITE, '--building', BUILDING, '--month', '2026-13', '--out', join(dir, 'x.html')], env, CLI_TIMEOUT);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--month must be YYYY-MM');
    const missing = await runCli(['report', 'monthly', '--site', SITE, '--building', 'nope', '--month', CLI_MONTH, '--out', join(dir, 'x.html')], env, CLI_TIMEOUT);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('REPORT_BUILDING_NOT_FOUND');
  }, 4 * CLI_TIMEOUT);
});
