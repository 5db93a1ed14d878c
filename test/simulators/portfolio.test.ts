import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode, isValidId } from '@wattproof/core';
import { generatePortfolio, loadPortfolio, parsePortfolio, parsePortfolioText, portfolioMeters, portfolioSummary } from '@wattproof/simulators';

const YAML = `
version: 1
name: Yuzhong test park
seed: 42
connection: { strategy: aggregator, connections: 10 }
sites:
  - id: yz
    name: Yuzhong
    timezone: Asia/Shanghai
    coordinates: { latitude: 29.557, longitude: 106.577 }
    weatherStation: true
parks:
  - { id: park-1, site: yz, buildings: [tower-a] }
buildings:
  - id: tower-a
    site: yz
    park: park-1
    archetype: office_b
    floorAreaM2: 46000
    seed: 7
    pvKwp: 120
    retrofits:
      - { id: chiller, description: chiller replacement, from: 2026-03-01, target: cooling, saving: 0.18 }
    meters:
      - { id: elec-main, source: main, kind: interval, intervalS: 900 }
      - { id: elec-hvac, source: hvac, intervalS: 900, parent: elec-main }
      - id: gas
        source: gas
        kind: register
        intervalS: 3600
        rollover: 1000000
        serial: G-1
        replacements: [{ at: 2026-06-01, serial: G-2 }]
        clock: { driftPpm: 20, ntpSyncIntervalS: 86400 }
      - { id: demand, source: main, kind: instant, intervalS: 60, unit: kW }
faults:
  duplicate: { rate: 0.01 }
`;

describe('portfolio files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wattproof-portfolio-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads YAML and JSON with defaults applied', async () => {
    await writeFile(join(dir, 'p.yaml'), YAML);
    const p = await loadPortfolio(join(dir, 'p.yaml'));
    expect(p.connection).toEqual({ strategy: 'aggregator', connections: 10 });
    expect(p.buildings[0]!.meters[1]).toMatchObject({ id: 'elec-hvac', kind: 'interval', intervalS: 900 });
    expect(p.sites[0]!.weatherStation).toEqual({ building: 'weather', meter: 'station', intervalS: 900 });
    expect(p.sites[0]!.aggregators).toBe(1);
    await writeFile(join(dir, 'p.json'), JSON.stringify(parsePortfolioText(YAML)));
    expect(await loadPortfolio(join(dir, 'p.json'))).toEqual(p);
    expect(portfolioSummary(p)).toEqual({ sites: 1, buildings: 1, meters: 5, weatherStations: 1 });
  });

  it('resolves meters: refs, weather station, replacement at local midnight', () => {
    const p = parsePortfolioText(YAML);
    const meters = portfolioMeters(p);
    expect(meters.map((m) => `${m.ref.site}/${m.ref.building}/${m.ref.meter}`)).toEqual(['yz/tower-a/elec-main', 'yz/tower-a/elec-hvac', 'yz/tower-a/gas', 'yz/tower-a/demand', 'yz/weather/station']);
    const gas = meters[2]!.definition;
    expect(gas.replacements).toEqual([{ atMs: Date.parse('2026-05-31T16:00:00Z'), serial: 'G-2' }]);
    expect(gas.alignOffsetS).toBe(8 * 3600);
    expect(meters[4]!.definition).toMatchObject({ source: 'weather', kind: 'instant', intervalS: 900 });
    expect(meters[1]!.parent).toBe('elec-main');
  });

  it.each([
    ['an interval that does not fit the hour', (y: string) => y.replace('kind: instant, intervalS: 60', 'kind: instant, intervalS: 700'), 'buildings[0].meters[3].intervalS: intervalS 700 neither divides 3600'],
    ['an unknown site', (y: string) => y.replace('    site: yz\n    park', '    site: nowhere\n    park'), 'buildings[0].site: unknown site "nowhere"'],
    ['a duplicate meter', (y: string) => y.replace('id: elec-hvac', 'id: elec-main'), 'buildings[0].meters[1].id: duplicate meter id "elec-main"'],
    ['a bad time zone', (y: string) => y.replace('Asia/Shanghai', 'Mars/Olympus'), 'sites[0].timezone: is not an IANA time zone'],
    ['an unknown archetype', (y: string) => y.replace('office_b', 'castle'), 'buildings[0].archetype'],
    ['a rollover on an interval meter', (y: string) => y.replace('{ id: elec-main, source: main, kind: interval, intervalS: 900 }', '{ id: elec-main, source: main, kind: interval, intervalS: 900, rollover: 10 }'), 'buildings[0].meters[0].rollover: rollover is only allowed for kind "register"'],
    ['a unit that does not suit the meter', (y: string) => y.replace('unit: kW', 'unit: kWh'), 'buildings[0].meters[3].unit: unit "kWh" is not valid for electricity (instant)'],
    ['a typo in a field name', (y: string) => y.replace('floorAreaM2', 'floorAreaM'), 'buildings[0]: Unrecognized key: "floorAreaM"'],
    ['an id with a slash', (y: string) => y.replace('id: tower-a\n', 'id: tower/a\n'), 'buildings[0].id: must start with a letter or digit'],
    ['an unknown park building', (y: string) => y.replace('buildings: [tower-a]', 'buildings: [tower-b]'), 'parks[0].buildings[0]: unknown building "tower-b"'],
    ['a fault rate above 1', (y: string) => y.replace('rate: 0.01', 'rate: 3'), 'faults.duplicate.rate'],
    ['an unknown parent', (y: string) => y.replace('parent: elec-main', 'parent: elec-x'), 'buildings[0].meters[1].parent: unknown meter "elec-x"'],
  ])('refuses %s, naming the field', (_what, edit, expected) => {
    let err: unknown;
    try {
      parsePortfolioText(edit(YAML), 'park.yaml');
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'SIM_PORTFOLIO_INVALID')).toBe(true);
    expect((err as Error).message).toContain('park.yaml is invalid');
    expect((err as Error).message).toContain(expected);
  });

  it('lists every problem at once', () => {
    const err = (() => {
      try {
        parsePortfolio({ sites: [{ id: 'a', timezone: 'x' }], buildings: [{ id: 'b', site: 'c', archetype: 'mall', floorAreaM2: -1, seed: 1, meters: [] }] });
      } catch (e) {
        return e as Error & { details: { issues: Array<{ path: string }> } };
      }
    })()!;
    expect(err.details.issues.map((i) => i.path).sort()).toEqual(['buildings[0].floorAreaM2', 'buildings[0].meters', 'buildings[0].site', 'sites[0].timezone']);
  });

  it('refuses files that do not parse or cannot be read', async () => {
    await writeFile(join(dir, 'bad.yaml'), 'sites: [unclosed');
    expect(hasCode(await loadPortfolio(join(dir, 'bad.yaml')).catch((e: unknown) => e), 'SIM_PORTFOLIO_INVALID')).toBe(true);
    expect(hasCode(await loadPortfolio(join(dir, 'missing.yaml')).catch((e: unknown) => e), 'SIM_PORTFOLIO_UNREADABLE')).toBe(true);
  });
});

describe('generated portfolios', () => {
  const digest = (x: unknown) => createHash('sha256').update(JSON.stringify(x)).digest('hex');

  it('make 2,000 buildings with 20,000 meters, deterministically', () => {
    const p = generatePortfolio({ buildings: 2000, metersPerBuilding: 10, seed: 11 });
    expect(portfolioSummary(p)).toEqual({ sites: 20, buildings: 2000, meters: 20_020, weatherStations: 20 });
    expect(p.buildings.every((b) => b.meters.length === 10)).toBe(true);
    const meters = portfolioMeters(p);
    expect(meters).toHaveLength(20_020);
    expect(new Set(meters.map((m) => `${m.ref.site}/${m.ref.building}/${m.ref.meter}`)).size).toBe(20_020);
    expect(meters.every((m) => isValidId(m.ref.site) && isValidId(m.ref.building) && isValidId(m.ref.meter))).toBe(true);
    expect(digest(generatePortfolio({ buildings: 2000, metersPerBuilding: 10, seed: 11 }))).toBe(digest(p));
    expect(digest(generatePortfolio({ buildings: 2000, metersPerBuilding: 10, seed: 12 }))).not.toBe(digest(p));
    // A plausible mix: several archetypes, PV on some buildings, areas within bounds.
    expect(new Set(p.buildings.map((b) => b.archetype)).size).toBeGreaterThanOrEqual(8);
    const withPv = p.buildings.filter((b) => b.pvKwp !== undefined).length;
    expect(withPv).toBeGreaterThan(800);
    expect(withPv).toBeLessThan(1200);
  });

  it('honours meters per building, buildings per site and the strategy', () => {
    const small = generatePortfolio({ buildings: 5, metersPerBuilding: 3, buildingsPerSite: 2, strategy: 'aggregator', weatherStations: false });
    expect(small.sites.map((s) => s.id)).toEqual(['site-001', 'site-002', 'site-003']);
    expect(small.buildings.map((b) => b.meters.map((m) => m.id))).toEqual(Array(5).fill(['elec-main', 'elec-lighting', 'elec-hvac']));
    expect(small.connection.strategy).toBe('aggregator');
    const many = generatePortfolio({ buildings: 1, metersPerBuilding: 14 });
    expect(many.buildings[0]!.meters).toHaveLength(14);
    expect(new Set(many.buildings[0]!.meters.map((m) => m.id)).size).toBe(14);
  });
});
