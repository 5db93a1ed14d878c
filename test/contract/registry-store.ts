/**
 * The contract every `RegistryStore` adapter passes (memory, JSON lines, PostgreSQL).
 *
 * The factory returns a new, not yet initialised instance on the same location (directory or
 * database) each time it is called, so the suite can close and reopen the store and run a second
 * instance beside the first. Every test uses its own ids, topics and codes, so one location
 * serves the whole file.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeDeadLetterPayload, hasCode, type NewDeadLetter, type NewRecord, type Principal, type RegisterEvent, type RegistryStore } from '@wattproof/core';

export interface RegistryStoreContractOptions {
  /** Two instances on the same location see each other's writes without reopening (JSON lines, PostgreSQL). */
  readonly sharedAcrossInstances: boolean;
  /** Data survives close and reopen; defaults to `sharedAcrossInstances`. */
  readonly persistent?: boolean;
}

export type RegistryStoreFactory = () => RegistryStore | Promise<RegistryStore>;

let uidCounter = 0;
/** A fresh id valid as a site/building/meter id. */
function uid(prefix: string): string {
  uidCounter += 1;
  return `${prefix}-${uidCounter}-${randomBytes(4).toString('hex')}`;
}

function deadLetter(topic: string, overrides: Partial<NewDeadLetter> = {}): NewDeadLetter {
  return {
    receivedAtMs: Date.parse('2026-11-30T08:00:00+08:00'),
    source: 'gateway',
    topic,
    code: 'CONTRACT_SCHEMA_INVALID',
    reason: 'readings[0].value: expected number',
    ...encodeDeadLetterPayload('{"readings":[{"value":"x"}]}'),
    ...overrides,
  };
}

function principal(username: string, overrides: Partial<Principal> = {}): Principal {
  return { username, role: 'service', secretHash: `scrypt$16384$8$1$${randomBytes(16).toString('base64url')}$${randomBytes(32).toString('base64url')}`, createdAtMs: 1_764_460_800_000, ...overrides };
}

/** A fresh record kind (valid: lower case, at most 64 characters). */
function kindUid(prefix = 'mv.test'): string {
  return uid(prefix).toLowerCase();
}

function record(kind: string, key: string, body: unknown = { n: 1 }, recordedAtMs = 1_764_460_800_000): NewRecord {
  return { kind, key, recordedAtMs, body };
}

/** Resolves to the rejection of `p` (undefined when it resolved). */
async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** Bodies JSON can carry unchanged, with the awkward cases: float digits, extremes, nesting, unicode. */
const AWKWARD_BODY = {
  sum: 0.1 + 0.2,
  tiny: 1e-300,
  minSubnormal: 5e-324,
  huge: 1.7976931348623157e308,
  e21: 1e21,
  seventeen: 123456789.12345679,
  third: 1 / 3,
  negative: -2.5e-8,
  maxSafe: Number.MAX_SAFE_INTEGER,
  minSafe: Number.MIN_SAFE_INTEGER,
  epochMs: 1_764_460_800_123,
  zero: 0,
  nested: { a: [1, [2, [3, [4, { deep: [] as unknown[] }]]]], b: {}, c: [[], [[]]], '': 'empty key' },
  matrix: [
    [1.5, -0.25, 3e-7],
    [null, true, false],
  ],
  text: '重庆 渝中区 — 空调 ❄️ 🔥 👩🏽‍🔬 "quoted" back\\slash\ttab\nnewline \u2028\u2029 \u007f',
  中文键: { 电表: '总表 Main', '😀': 1 },
  nullField: null,
  emptyString: '',
  bools: [true, false],
  longString: 'x'.repeat(100_000),
  lineage: { inputs: [{ series: 'site/b/m/electricity/interval', from: 1_700_000_000_000, to: 1_730_000_000_000, sha256: 'a'.repeat(64) }], model: 'caltrack-daily', version: '1.0.0' },
};

/** Declares the registry-store contract suite for one adapter. */
export function describeRegistryStore(name: string, factory: RegistryStoreFactory, options: RegistryStoreContractOptions): void {
  const persistent = options.persistent ?? options.sharedAcrossInstances;

  describe(`RegistryStore contract: ${name}`, () => {
    let store: RegistryStore;
    const extra: RegistryStore[] = [];

    async function openStore(): Promise<RegistryStore> {
      const s = await factory();
      extra.push(s);
      await s.init();
      return s;
    }

    beforeAll(async () => {
      store = await factory();
      await store.init();
    });

    afterAll(async () => {
      for (const s of extra) await s.close();
      await store?.close();
    });

    it('has a name and answers ping', async () => {
      expect(typeof store.name).toBe('string');
      expect(store.name.length).toBeGreaterThan(0);
      expect(await store.ping()).toBe(true);
    });

    it('init() twice is fine', async () => {
      await store.init();
      await store.init();
      expect(await store.ping()).toBe(true);
    });

    describe('sites and buildings', () => {
      it('upserts and lists sites sorted by id', async () => {
        const a = uid('site-a');
        const b = uid('site-b');
        await store.upsertSite({ id: b, timezone: 'Asia/Shanghai', name: '渝中 园区' });
        await store.upsertSite({ id: a, timezone: 'Europe/Berlin', name: 'Berlin', latitude: 52.52, longitude: 13.405 });
        const sites = (await store.listSites()).filter((s) => s.id === a || s.id === b);
        expect(sites).toEqual([
          { id: a, timezone: 'Europe/Berlin', name: 'Berlin', latitude: 52.52, longitude: 13.405 },
          { id: b, timezone: 'Asia/Shanghai', name: '渝中 园区' },
        ]);
        const all = (await store.listSites()).map((s) => s.id);
        expect(all).toEqual([...all].sort());
      });

      it('upsertSite replaces every field', async () => {
        const id = uid('site');
        await store.upsertSite({ id, timezone: 'Asia/Shanghai', name: 'old', latitude: 29.56, longitude: 106.55 });
        await store.upsertSite({ id, timezone: 'Asia/Chongqing' });
        expect((await store.listSites()).find((s) => s.id === id)).toEqual({ id, timezone: 'Asia/Chongqing' });
      });

      it('upserts buildings and filters them by site', async () => {
        const s1 = uid('site');
        const s2 = uid('site');
        await store.upsertSite({ id: s1, timezone: 'Asia/Shanghai' });
        await store.upsertSite({ id: s2, timezone: 'Asia/Shanghai' });
        await store.upsertBuilding({ site: s1, id: 'b-02', name: 'Tower B', type: 'office_b', floorAreaM2: 12_500.5 });
        await store.upsertBuilding({ site: s1, id: 'b-01', type: 'hotel' });
        await store.upsertBuilding({ site: s2, id: 'b-01' });
        expect(await store.listBuildings(s1)).toEqual([
          { site: s1, id: 'b-01', type: 'hotel' },
          { site: s1, id: 'b-02', name: 'Tower B', type: 'office_b', floorAreaM2: 12_500.5 },
        ]);
        expect(await store.listBuildings(s2)).toEqual([{ site: s2, id: 'b-01' }]);
        const all = await store.listBuildings();
        expect(all.filter((b) => b.site === s1 || b.site === s2)).toHaveLength(3);
      });

      it('upsertBuilding replaces every field', async () => {
        const site = uid('site');
        await store.upsertSite({ id: site, timezone: 'Asia/Shanghai' });
        await store.upsertBuilding({ site, id: 'b', name: 'old', type: 'mall', floorAreaM2: 100 });
        await store.upsertBuilding({ site, id: 'b', name: 'new' });
        expect(await store.listBuildings(site)).toEqual([{ site, id: 'b', name: 'new' }]);
      });
    });

    describe('meters', () => {
      it('upsertMeter creates its site (Asia/Shanghai) and building when missing', async () => {
        const site = uid('site');
        await store.upsertMeter({ site, building: 'b-01', meter: 'main.elec', quantity: 'electricity' });
        expect((await store.listSites()).find((s) => s.id === site)).toEqual({ id: site, timezone: 'Asia/Shanghai' });
        expect(await store.listBuildings(site)).toEqual([{ site, id: 'b-01' }]);
        expect(await store.listMeters({ site })).toEqual([{ site, building: 'b-01', meter: 'main.elec', quantity: 'electricity' }]);
      });

      it('upsertMeter keeps an existing site and building as they are', async () => {
        const site = uid('site');
        await store.upsertSite({ id: site, timezone: 'Europe/Paris', name: 'Paris' });
        await store.upsertBuilding({ site, id: 'b', name: 'HQ', type: 'office_a' });
        await store.upsertMeter({ site, building: 'b', meter: 'm' });
        expect((await store.listSites()).find((s) => s.id === site)).toEqual({ id: site, timezone: 'Europe/Paris', name: 'Paris' });
        expect(await store.listBuildings(site)).toEqual([{ site, id: 'b', name: 'HQ', type: 'office_a' }]);
      });

      it('lists meters filtered by site and building, sorted', async () => {
        const site = uid('site');
        const other = uid('site');
        await store.upsertMeter({ site, building: 'b-2', meter: 'm-1' });
        await store.upsertMeter({ site, building: 'b-1', meter: 'm-2', endUse: 'hvac', parent: 'm-1' });
        await store.upsertMeter({ site, building: 'b-1', meter: 'm-1', name: '总表 Main', quantity: 'electricity' });
        await store.upsertMeter({ site: other, building: 'b-1', meter: 'm-1' });
        expect(await store.listMeters({ site })).toEqual([
          { site, building: 'b-1', meter: 'm-1', name: '总表 Main', quantity: 'electricity' },
          { site, building: 'b-1', meter: 'm-2', endUse: 'hvac', parent: 'm-1' },
          { site, building: 'b-2', meter: 'm-1' },
        ]);
        expect((await store.listMeters({ site, building: 'b-1' })).map((m) => m.meter)).toEqual(['m-1', 'm-2']);
        expect(await store.listMeters({ site: other, building: 'b-1' })).toEqual([{ site: other, building: 'b-1', meter: 'm-1' }]);
        const all = await store.listMeters();
        expect(all.filter((m) => m.site === site || m.site === other)).toHaveLength(4);
        // Building filter alone matches that building id on every site.
        expect((await store.listMeters({ building: 'b-2' })).filter((m) => m.site === site)).toHaveLength(1);
      });

      it('upsertMeter replaces every field; getMeter finds it', async () => {
        const ref = { site: uid('site'), building: 'b', meter: 'm' };
        await store.upsertMeter({ ...ref, name: 'old', quantity: 'gas', endUse: 'special', parent: 'main' });
        await store.upsertMeter({ ...ref, quantity: 'water' });
        expect(await store.getMeter(ref)).toEqual({ ...ref, quantity: 'water' });
        expect(await store.getMeter({ ...ref, meter: 'missing' })).toBeUndefined();
        expect(await store.listMeters({ site: ref.site })).toHaveLength(1);
      });
    });

    describe('principals', () => {
      it('puts, gets and lists principals sorted by username', async () => {
        const site = uid('site');
        const device = principal(`${site}/b/m`, { role: 'device', meter: { site, building: 'b', meter: 'm' } });
        const service = principal(uid('svc'), { role: 'service' });
        const operator = principal(uid('op'), { role: 'operator' });
        await store.putPrincipal(device);
        await store.putPrincipal(service);
        await store.putPrincipal(operator);
        expect(await store.getPrincipal(device.username)).toEqual(device);
        expect(await store.getPrincipal(service.username)).toEqual(service);
        expect(await store.getPrincipal(uid('nobody'))).toBeUndefined();
        const listed = await store.listPrincipals();
        const ours = listed.filter((p) => [device.username, service.username, operator.username].includes(p.username));
        expect(ours).toEqual([device, operator, service].sort((a, b) => (a.username < b.username ? -1 : 1)));
        const names = listed.map((p) => p.username);
        expect(names).toEqual([...names].sort());
      });

      it('keeps the site of an aggregator principal', async () => {
        const site = uid('site');
        const aggregator = principal(`aggregator:${site}`, { role: 'aggregator', site });
        await store.putPrincipal(aggregator);
        expect(await store.getPrincipal(aggregator.username)).toEqual(aggregator);
        expect((await store.listPrincipals()).find((p) => p.username === aggregator.username)).toEqual(aggregator);
      });

      it('rotates a principal: putting it again replaces the hash', async () => {
        const p = principal(uid('svc'));
        await store.putPrincipal(p);
        const rotated = { ...p, secretHash: 'scrypt$16384$8$1$c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5' };
        await store.putPrincipal(rotated);
        expect((await store.getPrincipal(p.username))?.secretHash).toBe(rotated.secretHash);
        expect((await store.listPrincipals()).filter((x) => x.username === p.username)).toHaveLength(1);
      });

      it('disables a principal; unknown usernames give false', async () => {
        const p = principal(uid('svc'));
        await store.putPrincipal(p);
        expect(await store.disablePrincipal(p.username, 1_764_500_000_000)).toBe(true);
        expect(await store.getPrincipal(p.username)).toEqual({ ...p, disabledAtMs: 1_764_500_000_000 });
        expect((await store.listPrincipals()).find((x) => x.username === p.username)?.disabledAtMs).toBe(1_764_500_000_000);
        // Disabling again keeps the first time.
        expect(await store.disablePrincipal(p.username, 1_764_600_000_000)).toBe(true);
        expect((await store.getPrincipal(p.username))?.disabledAtMs).toBe(1_764_500_000_000);
        expect(await store.disablePrincipal(uid('nobody'), 1)).toBe(false);
        expect(await store.getPrincipal(p.username)).toBeDefined();
      });

      it('putting a disabled principal again without disabledAtMs enables it', async () => {
        const p = principal(uid('svc'));
        await store.putPrincipal(p);
        await store.disablePrincipal(p.username, 5);
        await store.putPrincipal(p);
        expect((await store.getPrincipal(p.username))?.disabledAtMs).toBeUndefined();
      });
    });

    describe('dead letters', () => {
      it('assigns unique ids that increase by arrival, and lists newest first', async () => {
        const prefix = `wattproof/v1/${uid('s')}/`;
        const first = await store.addDeadLetters([deadLetter(`${prefix}b/m1/readings`), deadLetter(`${prefix}b/m2/readings`), deadLetter(`${prefix}b/m3/readings`)]);
        const second = await store.addDeadLetters([deadLetter(`${prefix}b/m4/readings`)]);
        const ids = [...first, ...second].map((d) => d.id);
        expect(new Set(ids).size).toBe(4);
        for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
        expect(first.map((d) => d.topic)).toEqual([1, 2, 3].map((i) => `${prefix}b/m${i}/readings`));
        const listed = await store.listDeadLetters({ topicPrefix: prefix });
        expect(listed.map((d) => d.id)).toEqual([...ids].reverse());
        expect(listed[0]).toEqual(second[0]);
      });

      it('returns an empty array for an empty batch', async () => {
        expect(await store.addDeadLetters([])).toEqual([]);
      });

      it('pages with `before`', async () => {
        const prefix = `wattproof/v1/${uid('s')}/`;
        const added = await store.addDeadLetters(Array.from({ length: 5 }, (_, i) => deadLetter(`${prefix}b/m/readings`, { reason: `r${i}` })));
        const page1 = await store.listDeadLetters({ topicPrefix: prefix, limit: 2 });
        expect(page1.map((d) => d.reason)).toEqual(['r4', 'r3']);
        const page2 = await store.listDeadLetters({ topicPrefix: prefix, limit: 2, before: page1[1]!.id });
        expect(page2.map((d) => d.reason)).toEqual(['r2', 'r1']);
        const page3 = await store.listDeadLetters({ topicPrefix: prefix, limit: 2, before: page2[1]!.id });
        expect(page3.map((d) => d.reason)).toEqual(['r0']);
        expect(await store.listDeadLetters({ topicPrefix: prefix, before: added[0]!.id })).toEqual([]);
      });

      it('filters by code, source and topic prefix, and counts', async () => {
        const site = uid('s');
        const prefix = `wattproof/v1/${site}/`;
        const code = `TEST_${site.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
        await store.addDeadLetters([
          deadLetter(`${prefix}b/m1/readings`, { code, source: 'gateway' }),
          deadLetter(`${prefix}b/m2/readings`, { code, source: 'ingest' }),
          deadLetter(`${prefix}b/m2/status`, { source: 'ingest' }),
          deadLetter(`${prefix}c/m1/readings`, { code, source: 'api' }),
          deadLetter(`wattproof/v1/${site}x/b/m1/readings`, { code }),
        ]);
        expect((await store.listDeadLetters({ code })).map((d) => d.topic)).toEqual([
          `wattproof/v1/${site}x/b/m1/readings`,
          `${prefix}c/m1/readings`,
          `${prefix}b/m2/readings`,
          `${prefix}b/m1/readings`,
        ]);
        expect(await store.countDeadLetters({ code })).toBe(4);
        expect(await store.countDeadLetters({ topicPrefix: prefix })).toBe(4);
        expect(await store.countDeadLetters({ topicPrefix: `${prefix}b/` })).toBe(3);
        expect(await store.countDeadLetters({ topicPrefix: prefix, source: 'ingest' })).toBe(2);
        expect(await store.countDeadLetters({ topicPrefix: prefix, source: 'ingest', code })).toBe(1);
        expect((await store.listDeadLetters({ topicPrefix: prefix, source: 'api' })).map((d) => d.topic)).toEqual([`${prefix}c/m1/readings`]);
        expect(await store.listDeadLetters({ topicPrefix: prefix, source: 'gateway', code: 'NO_SUCH_CODE' })).toEqual([]);
        // LIKE wildcards in a prefix are plain characters.
        expect(await store.countDeadLetters({ topicPrefix: `wattproof/v1/${site}%` })).toBe(0);
        expect(await store.countDeadLetters({ topicPrefix: `wattproof/v1/${site.slice(0, -1)}_` })).toBe(0);
        expect(await store.countDeadLetters()).toBeGreaterThanOrEqual(5);
      });

      it('limits to 100 by default and 1000 at most', async () => {
        const prefix = `wattproof/v1/${uid('s')}/`;
        const batch = Array.from({ length: 1001 }, (_, i) => deadLetter(`${prefix}b/m/readings`, { reason: `r${i}`, payload: `{"i":${i}}`, payloadBytes: `{"i":${i}}`.length }));
        const added = await store.addDeadLetters(batch);
        expect(added).toHaveLength(1001);
        expect(new Set(added.map((d) => d.id)).size).toBe(1001);
        const byDefault = await store.listDeadLetters({ topicPrefix: prefix });
        expect(byDefault).toHaveLength(100);
        expect(byDefault[0]!.reason).toBe('r1000');
        expect(await store.listDeadLetters({ topicPrefix: prefix, limit: 5000 })).toHaveLength(1000);
        expect(await store.listDeadLetters({ topicPrefix: prefix, limit: 3 })).toHaveLength(3);
        expect(await store.countDeadLetters({ topicPrefix: prefix })).toBe(1001);
      });

      it('round-trips payloads exactly: UTF-8 with Chinese text and emoji, and base64 binary', async () => {
        const prefix = `wattproof/v1/${uid('s')}/`;
        const text = '{"note":"重庆 渝中区 — 空调 ❄️ 🔥 \\"quoted\\" back\\\\slash","tab":"\t","nl":"a\nb\r\nc","ls":"\u2028\u2029"}';
        const binary = Buffer.from([0x00, 0x01, 0x0a, 0x0d, 0xff, 0xfe, 0x7b, 0x22, 0x00]);
        const big = 'x'.repeat(70 * 1024);
        const letters = [
          deadLetter(`${prefix}b/text/readings`, { ...encodeDeadLetterPayload(text) }),
          deadLetter(`${prefix}b/bin/readings`, { ...encodeDeadLetterPayload(binary), code: 'CONTRACT_PAYLOAD_NOT_JSON' }),
          deadLetter(`${prefix}b/big/readings`, { ...encodeDeadLetterPayload(big), code: 'CONTRACT_PAYLOAD_TOO_LARGE' }),
          deadLetter(`${prefix}b/empty/readings`, { ...encodeDeadLetterPayload('') }),
        ];
        expect(letters[0]!.payloadEncoding).toBe('utf8');
        expect(letters[1]!.payloadEncoding).toBe('base64');
        expect(letters[2]!.truncated).toBe(true);
        const added = await store.addDeadLetters(letters);
        const listed = await store.listDeadLetters({ topicPrefix: prefix });
        const byTopic = new Map(listed.map((d) => [d.topic, d]));
        for (const [i, l] of letters.entries()) {
          expect(byTopic.get(l.topic)).toEqual({ ...l, id: added[i]!.id });
          expect(added[i]).toEqual({ ...l, id: added[i]!.id });
        }
        const t = byTopic.get(`${prefix}b/text/readings`)!;
        expect(Buffer.from(t.payload, 'utf8').toString('utf8')).toBe(text);
        expect(t.payloadBytes).toBe(Buffer.byteLength(text, 'utf8'));
        const b = byTopic.get(`${prefix}b/bin/readings`)!;
        expect(Buffer.from(b.payload, 'base64').equals(binary)).toBe(true);
        const g = byTopic.get(`${prefix}b/big/readings`)!;
        expect(g.payload.length).toBe(64 * 1024);
        expect(g.payloadBytes).toBe(70 * 1024);
      });

      it('round-trips details as JSON and keeps optional fields', async () => {
        const prefix = `wattproof/v1/${uid('s')}/`;
        const details = {
          issues: [{ path: ['readings', 0, 'value'], message: '应为数字 expected number ✅', code: 'invalid_type' }],
          nested: { a: 1.5, b: -0, c: null, d: true, e: 'x'.repeat(10), f: [] as unknown[], g: {} },
          big: 1_764_460_800_000,
        };
        const l = deadLetter(`${prefix}b/m/readings`, { details, clientId: 'client-1', username: 'site/b/m', source: 'ingest' });
        const plain = deadLetter(`${prefix}b/m2/readings`);
        const arrayDetails = deadLetter(`${prefix}b/m3/readings`, { details: ['a', 1] });
        const [added, addedPlain, addedArray] = await store.addDeadLetters([l, plain, arrayDetails]);
        const listed = await store.listDeadLetters({ topicPrefix: prefix });
        const got = listed.find((d) => d.id === added!.id)!;
        expect(got.details).toEqual(JSON.parse(JSON.stringify(details)));
        expect(got.clientId).toBe('client-1');
        expect(got.username).toBe('site/b/m');
        expect(got.source).toBe('ingest');
        const gotPlain = listed.find((d) => d.id === addedPlain!.id)!;
        expect(gotPlain.details).toBeUndefined();
        expect('clientId' in gotPlain && gotPlain.clientId !== undefined).toBe(false);
        expect(listed.find((d) => d.id === addedArray!.id)!.details).toEqual(['a', 1]);
      });
    });

    describe('register events', () => {
      const event = (site: string, meter: string, ts: number, overrides: Partial<RegisterEvent> = {}): RegisterEvent => ({
        site,
        building: 'b',
        meter,
        quantity: 'electricity',
        ts,
        type: 'rollover',
        previousValue: 99_999.5,
        value: 3.25,
        detectedAtMs: ts + 60_000,
        ...overrides,
      });

      it('adds and lists events by meter, newest first', async () => {
        const site = uid('site');
        const e1 = event(site, 'm1', 1_000_000, { note: '表计翻转 rollover' });
        const e2 = event(site, 'm1', 3_000_000, { type: 'reset', previousValue: 12, value: 0 });
        const e3 = event(site, 'm1', 2_000_000, { type: 'replacement', quantity: 'water' });
        const e4 = event(site, 'm2', 2_500_000, { type: 'out_of_order' });
        await store.addRegisterEvents([e1, e2]);
        await store.addRegisterEvents([e3, e4]);
        await store.addRegisterEvents([]);
        expect(await store.listRegisterEvents({ site, building: 'b', meter: 'm1' })).toEqual([e2, e3, e1]);
        expect(await store.listRegisterEvents({ site, meter: 'm2' })).toEqual([e4]);
        expect(await store.listRegisterEvents({ site })).toEqual([e2, e4, e3, e1]);
        expect(await store.listRegisterEvents({ site, limit: 2 })).toEqual([e2, e4]);
        expect(await store.listRegisterEvents({ site, meter: 'nope' })).toEqual([]);
        expect((await store.listRegisterEvents()).length).toBeGreaterThanOrEqual(1);
      });

      it('adding the same event (meter, quantity, ts, type) again replaces it', async () => {
        const site = uid('site');
        await store.addRegisterEvents([event(site, 'm', 5_000)]);
        await store.addRegisterEvents([event(site, 'm', 5_000, { note: 'again', detectedAtMs: 9_000 })]);
        expect(await store.listRegisterEvents({ site })).toEqual([event(site, 'm', 5_000, { note: 'again', detectedAtMs: 9_000 })]);
      });
    });

    describe('records', () => {
      it('appends and lists newest first, with unique increasing ids', async () => {
        const kind = kindUid();
        const key = `${uid('site')}/b/m`;
        const first = await store.appendRecords([record(kind, key, { i: 0 }, 30), record(kind, key, { i: 1 }, 10), record(kind, key, { i: 2 }, 20)]);
        const second = await store.appendRecords([record(kind, key, { i: 3 }, 5)]);
        const added = [...first, ...second];
        expect(added.map((r) => r.body)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 3 }]);
        expect(added.map((r) => [r.kind, r.key, r.recordedAtMs])).toEqual([
          [kind, key, 30],
          [kind, key, 10],
          [kind, key, 20],
          [kind, key, 5],
        ]);
        const ids = added.map((r) => r.id);
        expect(new Set(ids).size).toBe(4);
        for (const id of ids) expect(typeof id).toBe('string');
        for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
        // Newest = last appended, whatever recordedAtMs says.
        expect(await store.listRecords({ kind, key })).toEqual([...added].reverse());
        expect(await store.listRecords({ kind })).toEqual([...added].reverse());
      });

      it('returns an empty array for an empty batch and for no matches', async () => {
        expect(await store.appendRecords([])).toEqual([]);
        expect(await store.listRecords({ kind: kindUid() })).toEqual([]);
        expect(await store.listRecords({ kind: kindUid(), key: 'no/such/key' })).toEqual([]);
      });

      it('filters by kind, key and keyPrefix', async () => {
        const site = uid('site');
        const result = kindUid('mv.result');
        const adjustment = kindUid('mv.adjustment');
        const [r1, r2, a1, r3, r4, r5] = await store.appendRecords([
          record(result, `${site}/b1/m1`, { r: 1 }),
          record(result, `${site}/b1/m2`, { r: 2 }),
          record(adjustment, `${site}/b1/m1`, { a: 1 }),
          record(result, `${site}/b1`, { r: 3 }),
          record(result, `${site}/b2/m1`, { r: 4 }),
          record(result, `${site}x/b1/m1`, { r: 5 }),
        ]);
        expect(await store.listRecords({ kind: result })).toEqual([r5, r4, r3, r2, r1]);
        expect(await store.listRecords({ kind: adjustment })).toEqual([a1]);
        expect(await store.listRecords({ kind: result, key: `${site}/b1/m1` })).toEqual([r1]);
        expect(await store.listRecords({ kind: adjustment, key: `${site}/b1/m1` })).toEqual([a1]);
        expect(await store.listRecords({ kind: result, key: `${site}/b1` })).toEqual([r3]);
        expect(await store.listRecords({ kind: result, keyPrefix: `${site}/b1` })).toEqual([r3, r2, r1]);
        expect(await store.listRecords({ kind: result, keyPrefix: `${site}/b1/` })).toEqual([r2, r1]);
        expect(await store.listRecords({ kind: result, keyPrefix: `${site}/` })).toEqual([r4, r3, r2, r1]);
        expect(await store.listRecords({ kind: result, keyPrefix: site })).toEqual([r5, r4, r3, r2, r1]);
        expect(await store.listRecords({ kind: result, keyPrefix: '' })).toEqual([r5, r4, r3, r2, r1]);
        // key and keyPrefix together: both apply.
        expect(await store.listRecords({ kind: result, key: `${site}/b1/m2`, keyPrefix: `${site}/b1/` })).toEqual([r2]);
        expect(await store.listRecords({ kind: result, key: `${site}/b1/m2`, keyPrefix: `${site}/b2/` })).toEqual([]);
        // LIKE wildcards and regex characters in a prefix are plain characters.
        expect(await store.listRecords({ kind: result, keyPrefix: `${site}%` })).toEqual([]);
        expect(await store.listRecords({ kind: result, keyPrefix: `${site}/b_/` })).toEqual([]);
        expect(await store.listRecords({ kind: result, keyPrefix: `${site}/b1/m.` })).toEqual([]);
        // Kinds are exact, not prefixes.
        expect(await store.listRecords({ kind: result.slice(0, -1) })).toEqual([]);
      });

      it('pages with `before`', async () => {
        const kind = kindUid();
        const key = `${uid('site')}/b`;
        const added = await store.appendRecords(Array.from({ length: 5 }, (_, i) => record(kind, key, { i })));
        const page1 = await store.listRecords({ kind, key, limit: 2 });
        expect(page1.map((r) => r.body)).toEqual([{ i: 4 }, { i: 3 }]);
        const page2 = await store.listRecords({ kind, key, limit: 2, before: page1[1]!.id });
        expect(page2.map((r) => r.body)).toEqual([{ i: 2 }, { i: 1 }]);
        const page3 = await store.listRecords({ kind, key, limit: 2, before: page2[1]!.id });
        expect(page3.map((r) => r.body)).toEqual([{ i: 0 }]);
        expect(await store.listRecords({ kind, key, before: added[0]!.id })).toEqual([]);
        // The same cursor works with the kind-only and prefix filters.
        expect((await store.listRecords({ kind, before: added[3]!.id })).map((r) => r.body)).toEqual([{ i: 2 }, { i: 1 }, { i: 0 }]);
        expect((await store.listRecords({ kind, keyPrefix: key.slice(0, 5), before: added[1]!.id })).map((r) => r.body)).toEqual([{ i: 0 }]);
      });

      it('limits to 100 by default and 1000 at most', async () => {
        const kind = kindUid();
        const key = `${uid('site')}/b/m`;
        const added = await store.appendRecords(Array.from({ length: 1001 }, (_, i) => record(kind, key, { i, label: `r${i}` }, 1_764_460_800_000 + i)));
        expect(added).toHaveLength(1001);
        expect(new Set(added.map((r) => r.id)).size).toBe(1001);
        const byDefault = await store.listRecords({ kind });
        expect(byDefault).toHaveLength(100);
        expect(byDefault[0]).toEqual(added[1000]);
        expect(byDefault[99]).toEqual(added[901]);
        const max = await store.listRecords({ kind, key, limit: 5000 });
        expect(max).toHaveLength(1000);
        expect(max.at(-1)).toEqual(added[1]);
        expect(await store.listRecords({ kind, keyPrefix: key, limit: 3 })).toEqual([added[1000], added[999], added[998]]);
        expect(await store.listRecords({ kind, limit: 0 })).toHaveLength(1);
      });

      it('getRecord finds a record by id; unknown or foreign ids give undefined', async () => {
        const kind = kindUid('mv.definition');
        const [a, b] = await store.appendRecords([
          record(kind, 'site/b', { baseline: { from: 1, to: 2 }, model: 'tow' }),
          record(kind, 'site/b/m', [1, 'two', null]),
        ]);
        expect(await store.getRecord(a!.id)).toEqual(a);
        expect(await store.getRecord(b!.id)).toEqual(b);
        expect(await store.getRecord(`${b!.id}0`)).toBeUndefined();
        expect(await store.getRecord('')).toBeUndefined();
        expect(await store.getRecord('not-an-id')).toBeUndefined();
        expect(await store.getRecord('99999999999999999999999999')).toBeUndefined();
        expect(await store.getRecord('9999999999999999')).toBeUndefined();
      });

      it('round-trips awkward bodies exactly (deep equality; -0 comes back as 0)', async () => {
        const kind = kindUid();
        const key = `${uid('site')}/中文 楼/电表 ⚡`;
        const bodies: unknown[] = [AWKWARD_BODY, null, 0.1 + 0.2, -0, 'just a string 🔥', [], {}, [null, [null]], true, Number.MAX_SAFE_INTEGER];
        const added = await store.appendRecords(bodies.map((b) => record(kind, key, b)));
        const listed = await store.listRecords({ kind, key });
        const fetched = await Promise.all(added.map((r) => store.getRecord(r.id)));
        for (const [i, body] of bodies.entries()) {
          const expected = Object.is(body, -0) ? 0 : body;
          expect(added[i]!.body).toEqual(expected);
          expect(listed[bodies.length - 1 - i]!.body).toEqual(expected);
          expect(fetched[i]!.body).toEqual(expected);
          expect(listed[bodies.length - 1 - i]!.key).toBe(key);
        }
        const got = listed[bodies.length - 1]!.body as typeof AWKWARD_BODY;
        // Every number is the very same double.
        expect(got.sum).toBe(0.30000000000000004);
        expect(got.tiny).toBe(1e-300);
        expect(got.minSubnormal).toBe(5e-324);
        expect(got.huge).toBe(Number.MAX_VALUE);
        expect(got.e21).toBe(1e21);
        expect(got.seventeen).toBe(123456789.12345679);
        expect(got.third).toBe(1 / 3);
        expect(got.maxSafe).toBe(9007199254740991);
        expect(got.minSafe).toBe(-9007199254740991);
        expect(got.text).toBe(AWKWARD_BODY.text);
        expect(got.nullField).toBeNull();
        expect('nullField' in got).toBe(true);
        expect(got.longString).toHaveLength(100_000);
        // -0 is stored as 0 (JSON.stringify and PostgreSQL numeric have no negative zero).
        expect(Object.is(listed[bodies.length - 4]!.body, 0)).toBe(true);
        expect(Object.is(added[3]!.body, 0)).toBe(true);
        // Nested -0 too.
        const [neg] = await store.appendRecords([record(kind, key, { z: -0, arr: [-0] })]);
        expect(Object.is((neg!.body as { z: number }).z, 0)).toBe(true);
        expect(Object.is(((await store.getRecord(neg!.id))!.body as { z: number }).z, 0)).toBe(true);
      });

      it('drops object properties whose value is undefined, like JSON', async () => {
        const kind = kindUid();
        const [r] = await store.appendRecords([record(kind, 'k', { a: 1, gone: undefined, nested: { x: undefined, y: null } })]);
        expect(r!.body).toStrictEqual({ a: 1, nested: { y: null } });
        expect((await store.getRecord(r!.id))!.body).toStrictEqual({ a: 1, nested: { y: null } });
      });

      it('a returned record is a copy: changing it or the input does not change the store', async () => {
        const kind = kindUid();
        const body = { list: [1, 2], obj: { a: 1 } };
        const [r] = await store.appendRecords([record(kind, 'k', body)]);
        body.list.push(3);
        (r!.body as typeof body).obj.a = 99;
        expect((await store.getRecord(r!.id))!.body).toEqual({ list: [1, 2], obj: { a: 1 } });
        const [listed] = await store.listRecords({ kind });
        (listed!.body as typeof body).list.length = 0;
        expect((await store.listRecords({ kind }))[0]!.body).toEqual({ list: [1, 2], obj: { a: 1 } });
      });

      it('rejects invalid kinds and keys with REGISTRY_INPUT_INVALID and stores nothing of the batch', async () => {
        const kind = kindUid();
        const badKinds = ['', 'MV.result', '1mv', '.mv', 'mv result', 'mv/result', 'mv:result', `m${'v'.repeat(64)}`, 'mv.ü', 'mv\u0000'];
        for (const bad of badKinds) {
          const err = await rejectionOf(store.appendRecords([record(kind, 'ok'), record(bad, 'ok')]));
          expect(hasCode(err, 'REGISTRY_INPUT_INVALID'), `kind ${JSON.stringify(bad)}`).toBe(true);
          expect((err as { retriable?: boolean }).retriable).toBe(false);
        }
        // The longest valid kind and a key of exactly 200 characters are fine.
        const longest = `z${'9'.repeat(63)}`;
        const [okLong] = await store.appendRecords([record(longest, 'k'.repeat(200))]);
        expect(await store.getRecord(okLong!.id)).toEqual(okLong);
        const badKeys: unknown[] = ['', 'k'.repeat(201), 'a\u0000b', 'lone \ud800 surrogate', 42, undefined];
        for (const bad of badKeys) {
          const err = await rejectionOf(store.appendRecords([record(kind, 'ok'), { ...record(kind, 'ok'), key: bad as string }]));
          expect(hasCode(err, 'REGISTRY_INPUT_INVALID'), `key ${JSON.stringify(bad)}`).toBe(true);
        }
        for (const bad of [Number.NaN, 1.5, Number.MAX_SAFE_INTEGER + 2, '1' as unknown as number]) {
          const err = await rejectionOf(store.appendRecords([{ ...record(kind, 'ok'), recordedAtMs: bad }]));
          expect(hasCode(err, 'REGISTRY_INPUT_INVALID'), `recordedAtMs ${String(bad)}`).toBe(true);
        }
        expect(await store.listRecords({ kind })).toEqual([]);
        // Queries with an invalid kind are refused too.
        expect(hasCode(await rejectionOf(store.listRecords({ kind: 'Not Valid' })), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(hasCode(await rejectionOf(store.listRecords({ kind: '' })), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(hasCode(await rejectionOf(store.listRecords({ kind, key: '' })), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(hasCode(await rejectionOf(store.listRecords({ kind, keyPrefix: 'a\u0000' })), 'REGISTRY_INPUT_INVALID')).toBe(true);
      });

      it('rejects bodies JSON cannot carry unchanged with REGISTRY_INPUT_INVALID', async () => {
        const kind = kindUid();
        const cyclic: Record<string, unknown> = { a: 1 };
        cyclic.self = cyclic;
        let deep: unknown = 'leaf';
        for (let i = 0; i < 200; i++) deep = [deep];
        const badBodies: [string, unknown][] = [
          ['undefined', undefined],
          ['NaN', { v: Number.NaN }],
          ['Infinity', [1, Number.POSITIVE_INFINITY]],
          ['-Infinity', Number.NEGATIVE_INFINITY],
          ['bigint', { v: 1n }],
          ['function', { f: () => 1 }],
          ['symbol', { s: Symbol('x') }],
          ['Date', { at: new Date(0) }],
          ['Map', new Map([[1, 2]])],
          ['typed array', { v: new Float64Array([1, 2]) }],
          ['undefined in an array', [1, undefined]],
          // eslint-disable-next-line no-sparse-arrays
          ['hole in an array', [1, , 3]],
          ['cycle', cyclic],
          ['NUL in a string', { s: 'a\u0000b' }],
          ['NUL in a property name', { ['a\u0000b']: 1 }],
          ['unpaired surrogate', { s: 'x\udc00' }],
          ['too deep', deep],
        ];
        for (const [what, body] of badBodies) {
          const err = await rejectionOf(store.appendRecords([record(kind, 'ok', { fine: true }), { ...record(kind, 'ok'), body }]));
          expect(hasCode(err, 'REGISTRY_INPUT_INVALID'), what).toBe(true);
        }
        expect(await store.listRecords({ kind })).toEqual([]);
        // Shared (not cyclic) sub-objects and surrogate pairs are fine.
        const shared = { x: 1 };
        const [ok] = await store.appendRecords([record(kind, 'ok', { a: shared, b: shared, emoji: '😀', pair: '\ud83d\ude00' })]);
        expect((await store.getRecord(ok!.id))!.body).toEqual({ a: { x: 1 }, b: { x: 1 }, emoji: '😀', pair: '😀' });
      });
    });

    describe.runIf(persistent)('persistence', () => {
      it('keeps everything across close and reopen', async () => {
        const site = uid('site');
        const prefix = `wattproof/v1/${site}/`;
        const first = await factory();
        await first.init();
        await first.upsertSite({ id: site, timezone: 'Asia/Shanghai', name: '重庆' });
        await first.upsertMeter({ site, building: 'b', meter: 'm', quantity: 'electricity' });
        const p = principal(`${site}/b/m`, { role: 'device', meter: { site, building: 'b', meter: 'm' } });
        await first.putPrincipal(p);
        await first.disablePrincipal(p.username, 42);
        const letters = await first.addDeadLetters([deadLetter(`${prefix}b/m/readings`, { details: { why: '🔥' } })]);
        const ev: RegisterEvent = { site, building: 'b', meter: 'm', quantity: 'electricity', ts: 1, type: 'reset', previousValue: 5, value: 0, detectedAtMs: 2 };
        await first.addRegisterEvents([ev]);
        await first.close();

        const second = await openStore();
        expect((await second.listSites()).find((s) => s.id === site)).toEqual({ id: site, timezone: 'Asia/Shanghai', name: '重庆' });
        expect(await second.listBuildings(site)).toEqual([{ site, id: 'b' }]);
        expect(await second.getMeter({ site, building: 'b', meter: 'm' })).toEqual({ site, building: 'b', meter: 'm', quantity: 'electricity' });
        expect(await second.getPrincipal(p.username)).toEqual({ ...p, disabledAtMs: 42 });
        expect(await second.listDeadLetters({ topicPrefix: prefix })).toEqual(letters);
        expect(await second.listRegisterEvents({ site })).toEqual([ev]);
        // Ids keep increasing after a reopen.
        const [later] = await second.addDeadLetters([deadLetter(`${prefix}b/m/readings`)]);
        expect(later!.id > letters[0]!.id).toBe(true);
      });

      it('keeps records across close and reopen; ids keep increasing', async () => {
        const kind = kindUid();
        const key = `${uid('site')}/b/m`;
        const first = await factory();
        await first.init();
        const written = await first.appendRecords([record(kind, key, AWKWARD_BODY), record(kind, `${key}/x`, { second: [1.1, 2.2] })]);
        await first.close();

        const second = await openStore();
        expect(await second.listRecords({ kind })).toEqual([...written].reverse());
        expect(await second.getRecord(written[0]!.id)).toEqual(written[0]);
        const [later] = await second.appendRecords([record(kind, key, { after: 'reopen' })]);
        expect(later!.id > written[1]!.id).toBe(true);
        expect((await second.listRecords({ kind, key })).map((r) => r.id)).toEqual([later!.id, written[0]!.id]);
      });
    });

    describe.runIf(options.sharedAcrossInstances)('two instances on the same location', () => {
      it('a second instance sees principals, meters and dead letters written by the first without reopening', async () => {
        const other = await openStore();
        const site = uid('site');
        const prefix = `wattproof/v1/${site}/`;
        // Both instances have read everything before the writes.
        expect(await other.listPrincipals()).toBeDefined();
        expect(await other.getPrincipal(`${site}/b/m`)).toBeUndefined();
        expect(await other.listDeadLetters({ topicPrefix: prefix })).toEqual([]);

        const p = principal(`${site}/b/m`, { role: 'device', meter: { site, building: 'b', meter: 'm' } });
        await store.putPrincipal(p);
        await store.upsertMeter({ site, building: 'b', meter: 'm', name: 'shared' });
        const fromFirst = await store.addDeadLetters([deadLetter(`${prefix}b/m/readings`)]);
        expect(await other.getPrincipal(p.username)).toEqual(p);
        expect((await other.listPrincipals()).some((x) => x.username === p.username)).toBe(true);
        expect(await other.listMeters({ site })).toEqual([{ site, building: 'b', meter: 'm', name: 'shared' }]);
        expect(await other.getMeter({ site, building: 'b', meter: 'm' })).toEqual({ site, building: 'b', meter: 'm', name: 'shared' });
        expect(await other.listDeadLetters({ topicPrefix: prefix })).toEqual(fromFirst);

        // Rotation and disabling by one instance reach the other.
        const rotated = { ...p, secretHash: 'scrypt$16384$8$1$b3RoZXI$b3RoZXJrZXlvdGhlcmtleQ' };
        await other.putPrincipal(rotated);
        expect((await store.getPrincipal(p.username))?.secretHash).toBe(rotated.secretHash);
        expect(await store.disablePrincipal(p.username, 77)).toBe(true);
        expect((await other.getPrincipal(p.username))?.disabledAtMs).toBe(77);

        // Dead letters from both interleave with unique ids, newest first.
        const fromSecond = await other.addDeadLetters([deadLetter(`${prefix}b/m/readings`, { source: 'ingest' })]);
        const fromFirstAgain = await store.addDeadLetters([deadLetter(`${prefix}b/m/readings`, { source: 'api' })]);
        const all = await store.listDeadLetters({ topicPrefix: prefix });
        expect(all.map((d) => d.id)).toEqual([fromFirstAgain[0]!.id, fromSecond[0]!.id, fromFirst[0]!.id]);
        expect(await other.countDeadLetters({ topicPrefix: prefix })).toBe(3);
      });

      it('a second instance sees records appended by the first without reopening, and ids from both interleave', async () => {
        const other = await openStore();
        const kind = kindUid();
        const key = `${uid('site')}/b/m`;
        expect(await other.listRecords({ kind })).toEqual([]);
        const [a] = await store.appendRecords([record(kind, key, { from: 'first', v: 0.1 + 0.2 })]);
        expect(await other.listRecords({ kind, key })).toEqual([a]);
        expect(await other.getRecord(a!.id)).toEqual(a);
        const [b] = await other.appendRecords([record(kind, key, { from: 'second' })]);
        const [c] = await store.appendRecords([record(kind, key, { from: 'first again' })]);
        expect(b!.id > a!.id).toBe(true);
        expect(c!.id > b!.id).toBe(true);
        const ids = [c!.id, b!.id, a!.id];
        expect((await store.listRecords({ kind })).map((r) => r.id)).toEqual(ids);
        expect((await other.listRecords({ kind, keyPrefix: key })).map((r) => r.id)).toEqual(ids);
        expect(await store.getRecord(b!.id)).toEqual(b);
      });
    });

    describe('after close', () => {
      it('ping is false and calls reject with REGISTRY_CLOSED', async () => {
        const s = await factory();
        await s.init();
        await s.close();
        await s.close();
        expect(await s.ping()).toBe(false);
        const err = await s.listSites().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(hasCode(err, 'REGISTRY_CLOSED')).toBe(true);
        for (const call of [() => s.appendRecords([record('mv.result', 'k')]), () => s.listRecords({ kind: 'mv.result' }), () => s.getRecord('1')]) {
          expect(hasCode(await rejectionOf(call()), 'REGISTRY_CLOSED')).toBe(true);
        }
      });
    });
  });
}
