/**
 * The contract every `FinanceStore` adapter passes (the memory, JSON-lines and PostgreSQL
 * registry stores): validation with stable codes, references, append-only versions, effective
 * dates, as-of reads, persistence.
 *
 * The factory returns a new, not yet initialised instance on the same location each time, so the
 * suite can reopen the store and run a second instance beside the first. Every test uses its own
 * ids, so one location serves the whole file.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hasCode,
  type BuildingProfileInput,
  type FinanceIssue,
  type FinanceStore,
  type LoanInput,
  type PartyInput,
  type PolicyInput,
  type RegistryStore,
} from '@wattproof/core';

export interface FinanceStoreContractOptions {
  /** Two instances on the same location see each other's writes (JSON lines, PostgreSQL). */
  readonly sharedAcrossInstances: boolean;
}

export type FinanceStoreFactory = () => (RegistryStore & FinanceStore) | Promise<RegistryStore & FinanceStore>;

let counter = 0;
function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString('hex')}`;
}

/** 2026-01-01T00:00:00Z, and `n` minutes after it. */
const T0 = Date.UTC(2026, 0, 1);
const at = (n: number) => T0 + n * 60_000;

async function rejection(p: Promise<unknown>): Promise<{ code?: string; details?: unknown; message?: string }> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as { code?: string; details?: unknown; message?: string },
  );
}

function issuesOf(err: { details?: unknown }): FinanceIssue[] {
  return (err.details as { issues?: FinanceIssue[] } | undefined)?.issues ?? [];
}

const bank = (id: string): PartyInput => ({ id, name: 'Chongqing Demo Bank', nameZh: '重庆示范银行', roles: ['bank'], unifiedSocialCreditCode: '91110000100026734U' });
const owner = (id: string): PartyInput => ({ id, name: 'Riverside Hotel Co.', roles: ['owner', 'operator'] });
const insurer = (id: string): PartyInput => ({ id, name: 'Demo Property Insurance', roles: ['insurer'] });

function loan(id: string, lender: string, borrower: string, site: string, building: string, overrides: Partial<LoanInput> = {}): LoanInput {
  return {
    id,
    borrower,
    lender,
    kind: 'sustainability_linked_loan',
    assetClass: 'commercial_real_estate',
    currency: 'CNY',
    buildings: [{ site, building }],
    originationDate: '2025-03-01',
    maturityDate: '2032-03-01',
    propertyValueAtOriginationCny: 420_000_000,
    baseMarginBp: -15,
    covenants: [
      {
        id: 'savings',
        kpi: 'savings_fraction',
        scope: { site, building, meter: 'elec-main' },
        operator: '>=',
        threshold: 0.1,
        schedule: { frequency: 'annual', firstTestDate: '2026-03-31' },
        ratchet: { bpOnPass: -5, bpOnFail: 10 },
        kpiOptions: { normalized: true, confidence: 0.9 },
      },
    ],
    ...overrides,
  };
}

function policy(id: string, ins: string, insured: string, site: string, building: string, overrides: Partial<PolicyInput> = {}): PolicyInput {
  return {
    id,
    insurer: ins,
    insured,
    buildings: [{ site, building }],
    meters: [{ site, building, meter: 'elec-main' }],
    periods: [
      { id: 'y1', from: '2025-03-01', to: '2026-03-01', guaranteedSavingsKwh: 600_000 },
      { id: 'y2', from: '2026-03-01', to: '2027-03-01', guaranteedSavingsKwh: 600_000 },
    ],
    contractPriceCnyPerKwh: 0.82,
    deductibleCny: 20_000,
    limitCny: 1_500_000,
    premiumCny: 45_000,
    effectiveFrom: '2025-03-01',
    effectiveTo: '2027-03-01',
    ...overrides,
  };
}

function profile(site: string, building: string, effectiveFrom: string, overrides: Partial<BuildingProfileInput> = {}): BuildingProfileInput {
  return { site, building, effectiveFrom, type: 'hotel', floorAreaM2: 28_000, ...overrides };
}

/** Declares the finance-store contract suite for one adapter. */
export function describeFinanceStore(name: string, factory: FinanceStoreFactory, options: FinanceStoreContractOptions): void {
  describe(`FinanceStore contract: ${name}`, () => {
    let store: RegistryStore & FinanceStore;
    const extra: Array<RegistryStore & FinanceStore> = [];

    async function openStore(): Promise<RegistryStore & FinanceStore> {
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
      for (const s of extra) await s.close().catch(() => undefined);
      await store?.close();
    });

    /** A bank, an owner and an insurer with fresh ids. */
    async function parties(recordedAtMs = at(0)) {
      const ids = { bank: uid('bank'), owner: uid('owner'), insurer: uid('insurer') };
      await store.putParty(bank(ids.bank), { recordedAtMs });
      await store.putParty(owner(ids.owner), { recordedAtMs });
      await store.putParty(insurer(ids.insurer), { recordedAtMs });
      return ids;
    }

    describe('parties', () => {
      it('stores versions, never overwrites, and reads the current one or the one known as of a time', async () => {
        const id = uid('party');
        const first = await store.putParty({ id, name: 'Yuzhong Hotel Co.', roles: ['owner'] }, { recordedAtMs: at(10), source: 'contract test' });
        expect(first).toEqual({ value: { id, name: 'Yuzhong Hotel Co.', roles: ['owner'] }, version: 1, recordedAtMs: at(10), source: 'contract test', created: true });
        const second = await store.putParty({ id, name: 'Yuzhong Hotel Co., Ltd.', nameZh: '渝中酒店有限公司', roles: ['owner', 'operator'] }, { recordedAtMs: at(20) });
        expect(second.version).toBe(2);
        expect(second.created).toBe(true);

        expect((await store.getParty(id))?.value.name).toBe('Yuzhong Hotel Co., Ltd.');
        expect((await store.getParty(id))?.value.nameZh).toBe('渝中酒店有限公司');
        expect((await store.getParty(id, { asOfMs: at(10) }))?.value.name).toBe('Yuzhong Hotel Co.');
        expect((await store.getParty(id, { asOfMs: at(19) }))?.version).toBe(1);
        expect((await store.getParty(id, { asOfMs: at(20) }))?.version).toBe(2);
        expect(await store.getParty(id, { asOfMs: at(9) })).toBeUndefined();
        expect(await store.getParty(uid('nobody'))).toBeUndefined();

        const history = await store.partyHistory(id);
        expect(history.map((v) => [v.version, v.recordedAtMs, v.value.name])).toEqual([
          [1, at(10), 'Yuzhong Hotel Co.'],
          [2, at(20), 'Yuzhong Hotel Co., Ltd.'],
        ]);
        expect(history[0]!.source).toBe('contract test');
        expect(history[1]!.source).toBeUndefined();
      });

      it('stores nothing when the value equals the current version (idempotent reloads)', async () => {
        const id = uid('party');
        await store.putParty({ id, name: 'A', roles: ['verifier'] }, { recordedAtMs: at(1) });
        // Same value, other key order and a later time: no new version.
        const again = await store.putParty({ roles: ['verifier'], name: 'A', id }, { recordedAtMs: at(5) });
        expect(again).toMatchObject({ version: 1, recordedAtMs: at(1), created: false });
        expect(await store.partyHistory(id)).toHaveLength(1);
        // Back to an earlier value after a change is a new version.
        await store.putParty({ id, name: 'B', roles: ['verifier'] }, { recordedAtMs: at(6) });
        const back = await store.putParty({ id, name: 'A', roles: ['verifier'] }, { recordedAtMs: at(7) });
        expect(back).toMatchObject({ version: 3, created: true });
      });

      it('lists the current version of each party, filtered by role and as of a time', async () => {
        const a = uid('lp-a');
        const b = uid('lp-b');
        await store.putParty({ id: a, name: 'A', roles: ['owner'] }, { recordedAtMs: at(100) });
        await store.putParty({ id: b, name: 'B', roles: ['verifier'] }, { recordedAtMs: at(100) });
        await store.putParty({ id: b, name: 'B', roles: ['verifier', 'insurer'] }, { recordedAtMs: at(200) });
        const all = (await store.listParties()).filter((p) => p.value.id === a || p.value.id === b);
        expect(all.map((p) => [p.value.id, p.version])).toEqual([
          [a, 1],
          [b, 2],
        ]);
        const ids = (await store.listParties()).map((p) => p.value.id);
        expect(ids).toEqual([...ids].sort());
        const insurers = (await store.listParties({ role: 'insurer' })).map((p) => p.value.id);
        expect(insurers).toContain(b);
        expect(insurers).not.toContain(a);
        const earlier = (await store.listParties({ role: 'insurer', asOfMs: at(150) })).map((p) => p.value.id);
        expect(earlier).not.toContain(b);
        expect((await store.listParties({ asOfMs: at(150) })).find((p) => p.value.id === b)?.version).toBe(1);
      });

      it('refuses an invalid party with REGISTRY_FINANCE_INVALID naming each field, storing nothing', async () => {
        const id = uid('bad');
        const err = await rejection(store.putParty({ id, name: '', roles: [], unifiedSocialCreditCode: '911100001000258910' } as PartyInput, { recordedAtMs: at(0) }));
        expect(err.code).toBe('REGISTRY_FINANCE_INVALID');
        expect(issuesOf(err).map((i) => i.path).sort()).toEqual(['name', 'roles', 'unifiedSocialCreditCode']);
        expect(err.message).toContain(id);
        expect(await store.getParty(id)).toBeUndefined();
        const extraKey = await rejection(store.putParty({ id, name: 'x', roles: ['bank'], colour: 'red' } as unknown as PartyInput, { recordedAtMs: at(0) }));
        expect(extraKey.code).toBe('REGISTRY_FINANCE_INVALID');
        expect(hasCode(await rejection(store.putParty({ id: 'not an id', name: 'x', roles: ['bank'] }, { recordedAtMs: at(0) })), 'REGISTRY_FINANCE_INVALID')).toBe(true);
        expect(hasCode(await rejection(store.putParty(null as unknown as PartyInput, { recordedAtMs: at(0) })), 'REGISTRY_FINANCE_INVALID')).toBe(true);
      });

      it('refuses a back-dated version with REGISTRY_FINANCE_OUT_OF_ORDER (as-of reads stay reproducible)', async () => {
        const id = uid('party');
        await store.putParty({ id, name: 'v1', roles: ['owner'] }, { recordedAtMs: at(50) });
        const before = await store.getParty(id, { asOfMs: at(45) });
        const err = await rejection(store.putParty({ id, name: 'v0', roles: ['owner'] }, { recordedAtMs: at(40) }));
        expect(err.code).toBe('REGISTRY_FINANCE_OUT_OF_ORDER');
        expect(err.details).toMatchObject({ latestRecordedAtMs: at(50), latestVersion: 1 });
        expect(await store.getParty(id, { asOfMs: at(45) })).toEqual(before);
        // The same millisecond is not earlier: allowed, and it is the later version.
        const same = await store.putParty({ id, name: 'v2', roles: ['owner'] }, { recordedAtMs: at(50) });
        expect(same.version).toBe(2);
        expect((await store.getParty(id, { asOfMs: at(50) }))?.value.name).toBe('v2');
      });

      it('refuses malformed write options and read arguments with REGISTRY_INPUT_INVALID', async () => {
        const id = uid('party');
        for (const recordedAtMs of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
          expect(hasCode(await rejection(store.putParty({ id, name: 'x', roles: ['owner'] }, { recordedAtMs })), 'REGISTRY_INPUT_INVALID'), String(recordedAtMs)).toBe(true);
        }
        expect(hasCode(await rejection(store.putParty({ id, name: 'x', roles: ['owner'] }, { recordedAtMs: 1, source: 'x'.repeat(201) })), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(await store.getParty(id)).toBeUndefined();
        expect(hasCode(await rejection(store.getParty('bad id')), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(hasCode(await rejection(store.getParty(id, { asOfMs: 1.5 })), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(hasCode(await rejection(store.getBuildingProfile({ site: 's', building: 'b' }, { effectiveOn: '2026-02-30' })), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(hasCode(await rejection(store.listLoans({ building: { site: 's/x', building: 'b' } })), 'REGISTRY_INPUT_INVALID')).toBe(true);
        expect(hasCode(await rejection(store.loanBalances('')), 'REGISTRY_INPUT_INVALID')).toBe(true);
      });

      it('gives every concurrent write to one key its own version', async () => {
        const id = uid('party');
        const results = await Promise.all(Array.from({ length: 6 }, (_, i) => store.putParty({ id, name: `n${i}`, roles: ['owner'] }, { recordedAtMs: at(300) })));
        expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
        const history = await store.partyHistory(id);
        expect(history.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(new Set(history.map((v) => v.value.name)).size).toBe(6);
      });
    });

    describe('building profiles', () => {
      it('keeps effective-dated attributes, corrections as new versions, and reads them on a date as of a time', async () => {
        const p = await parties();
        const site = uid('site');
        const building = 'yz-hotel';
        const ref = { site, building };
        await store.putBuildingProfile(profile(site, building, '2024-01-01', { floorAreaM2: 27_000, ownerParty: p.owner }), { recordedAtMs: at(10) });
        await store.putBuildingProfile(
          profile(site, building, '2025-07-01', {
            floorAreaM2: 28_400,
            ownerParty: p.owner,
            operatorParty: p.owner,
            label: { scheme: 'GB/T 50378-2019', level: '2-star', kind: 'operation', validFrom: '2025-06-15', validTo: '2028-06-15', certificateId: 'CQ-2025-0193' },
          }),
          { recordedAtMs: at(20) },
        );
        // The 2024 floor area was wrong: a correction of that effective date.
        const corr = await store.putBuildingProfile(profile(site, building, '2024-01-01', { floorAreaM2: 27_500, ownerParty: p.owner }), { recordedAtMs: at(30) });
        expect(corr).toMatchObject({ version: 3, created: true });

        expect((await store.getBuildingProfile(ref))?.value.floorAreaM2).toBe(28_400);
        expect((await store.getBuildingProfile(ref, { effectiveOn: '2025-06-30' }))?.value.floorAreaM2).toBe(27_500);
        expect((await store.getBuildingProfile(ref, { effectiveOn: '2025-07-01' }))?.value.label?.level).toBe('2-star');
        expect(await store.getBuildingProfile(ref, { effectiveOn: '2023-12-31' })).toBeUndefined();
        // As the registry knew it before the correction.
        expect((await store.getBuildingProfile(ref, { effectiveOn: '2025-06-30', asOfMs: at(29) }))?.value.floorAreaM2).toBe(27_000);
        // Before the 2025 profile was recorded, 2026 still fell under the 2024 one.
        expect((await store.getBuildingProfile(ref, { effectiveOn: '2026-01-01', asOfMs: at(15) }))?.value.floorAreaM2).toBe(27_000);
        expect(await store.getBuildingProfile(ref, { asOfMs: at(9) })).toBeUndefined();

        const listed = await store.listBuildingProfiles({ site });
        expect(listed.map((v) => [v.value.effectiveFrom, v.version, v.value.floorAreaM2])).toEqual([
          ['2024-01-01', 3, 27_500],
          ['2025-07-01', 2, 28_400],
        ]);
        expect((await store.listBuildingProfiles({ site, asOfMs: at(25) })).map((v) => v.version)).toEqual([1, 2]);
        expect((await store.listBuildingProfiles({ site, building: 'other' }))).toEqual([]);
        expect((await store.buildingProfileHistory(ref)).map((v) => [v.version, v.value.effectiveFrom, v.value.floorAreaM2])).toEqual([
          [1, '2024-01-01', 27_000],
          [2, '2025-07-01', 28_400],
          [3, '2024-01-01', 27_500],
        ]);
        expect((await store.listBuildingProfiles()).some((v) => v.value.site === site)).toBe(true);
      });

      it('validates profiles and their party references', async () => {
        const site = uid('site');
        const bad = await rejection(
          store.putBuildingProfile(
            {
              site,
              building: 'b',
              effectiveFrom: '2025-02-29',
              type: 'casino' as never,
              floorAreaM2: 0,
              label: { scheme: 'GB/T 50378-2019', level: '3-star', kind: 'operation', validFrom: '2026-01-01', validTo: '2025-01-01' },
            },
            { recordedAtMs: at(0) },
          ),
        );
        expect(bad.code).toBe('REGISTRY_FINANCE_INVALID');
        expect(issuesOf(bad).map((i) => i.path).sort()).toEqual(['effectiveFrom', 'floorAreaM2', 'label.validTo', 'type']);
        const level = await rejection(
          store.putBuildingProfile(profile(site, 'b', '2025-01-01', { label: { scheme: 'GB/T 50378-2019', level: '4-star' as never, kind: 'design', validFrom: '2025-01-01', validTo: '2026-01-01' } }), { recordedAtMs: at(0) }),
        );
        expect(issuesOf(level).map((i) => i.path)).toEqual(['label.level']);
        const unknown = await rejection(store.putBuildingProfile(profile(site, 'b', '2025-01-01', { ownerParty: uid('ghost') }), { recordedAtMs: at(0) }));
        expect(unknown.code).toBe('REGISTRY_FINANCE_REFERENCE_UNKNOWN');
        expect(unknown.details).toMatchObject({ field: 'ownerParty' });
        expect(await store.getBuildingProfile({ site, building: 'b' })).toBeUndefined();
      });
    });

    describe('loans and balances', () => {
      it('stores a loan with its covenants (defaults applied) and its amendments as versions', async () => {
        const p = await parties();
        const site = uid('site');
        const id = uid('loan');
        const v1 = await store.putLoan(loan(id, p.bank, p.owner, site, 'yz-hotel'), { recordedAtMs: at(10) });
        expect(v1.version).toBe(1);
        expect(v1.value.covenants[0]).toEqual({
          id: 'savings',
          kpi: 'savings_fraction',
          scope: { site, building: 'yz-hotel', meter: 'elec-main' },
          operator: '>=',
          threshold: 0.1,
          schedule: { frequency: 'annual', firstTestDate: '2026-03-31', measurementWindowMonths: 12 },
          graceDays: 0,
          cure: { periods: 0 },
          ratchet: { bpOnPass: -5, bpOnFail: 10 },
          atRiskProbability: 0.2,
          kpiOptions: { normalized: true, confidence: 0.9 },
        });
        expect(await store.getLoan(id)).toEqual({ value: v1.value, version: 1, recordedAtMs: at(10) });

        // Amendment: a second building and a tighter covenant.
        const amended = loan(id, p.bank, p.owner, site, 'yz-hotel', {
          buildings: [
            { site, building: 'yz-hotel' },
            { site, building: 'yz-mall' },
          ],
        });
        amended.covenants = [{ ...amended.covenants![0]!, threshold: 0.12 }];
        await store.putLoan(amended, { recordedAtMs: at(20) });
        expect((await store.getLoan(id))?.value.covenants[0]!.threshold).toBe(0.12);
        expect((await store.getLoan(id, { asOfMs: at(15) }))?.value.covenants[0]!.threshold).toBe(0.1);
        expect((await store.loanHistory(id)).map((v) => v.version)).toEqual([1, 2]);

        const mall = { site, building: 'yz-mall' };
        expect((await store.listLoans({ building: mall })).map((v) => v.value.id)).toEqual([id]);
        expect(await store.listLoans({ building: mall, asOfMs: at(15) })).toEqual([]);
        expect((await store.listLoans({ lender: p.bank })).map((v) => [v.value.id, v.version])).toEqual([[id, 2]]);
        expect((await store.listLoans({ borrower: p.owner, lender: p.bank, building: { site, building: 'yz-hotel' } })).map((v) => v.value.id)).toEqual([id]);
        expect(await store.listLoans({ borrower: p.bank })).toEqual([]);
        expect((await store.listLoans()).some((v) => v.value.id === id)).toBe(true);
      });

      it('refuses invalid loans with every problem listed, and unknown or role-less parties', async () => {
        const p = await parties();
        const site = uid('site');
        const id = uid('loan');
        const bad = loan(id, p.bank, p.owner, site, 'yz-hotel', { maturityDate: '2024-01-01', propertyValueAtOriginationCny: 0 });
        bad.covenants = [
          { ...bad.covenants![0]!, scope: { site, building: 'elsewhere' }, threshold: 1.5 },
          { ...bad.covenants![0]!, kpi: 'label_maintained', threshold: 2.5, operator: '<' },
        ];
        const err = await rejection(store.putLoan(bad, { recordedAtMs: at(0) }));
        expect(err.code).toBe('REGISTRY_FINANCE_INVALID');
        const paths = issuesOf(err).map((i) => i.path);
        for (const path of ['propertyValueAtOriginationCny', 'maturityDate', 'covenants[0].threshold', 'covenants[0].scope', 'covenants[1].threshold', 'covenants[1].operator', 'covenants[1].id']) {
          expect(paths, path).toContain(path);
        }
        expect(await store.getLoan(id)).toBeUndefined();
        // Cross-field rules are checked once every field has the right type.
        const usd = await rejection(store.putLoan(loan(id, p.bank, p.owner, site, 'yz-hotel', { currency: 'USD' as 'CNY', maturityDate: '2024-01-01' }), { recordedAtMs: at(0) }));
        expect(issuesOf(usd).map((i) => i.path)).toEqual(['currency']);

        const noSpt = await rejection(store.putLoan(loan(id, p.bank, p.owner, site, 'b', { covenants: [] }), { recordedAtMs: at(0) }));
        expect(issuesOf(noSpt).map((i) => i.path)).toEqual(['covenants']);
        // A green loan may have no covenants.
        expect((await store.putLoan(loan(uid('green'), p.bank, p.owner, site, 'b', { kind: 'green_loan', covenants: [] }), { recordedAtMs: at(0) })).created).toBe(true);

        const ghost = await rejection(store.putLoan(loan(id, uid('ghost-bank'), p.owner, site, 'yz-hotel'), { recordedAtMs: at(0) }));
        expect(ghost.code).toBe('REGISTRY_FINANCE_REFERENCE_UNKNOWN');
        expect(ghost.details).toMatchObject({ field: 'lender' });
        const notABank = await rejection(store.putLoan(loan(id, p.insurer, p.owner, site, 'yz-hotel'), { recordedAtMs: at(0) }));
        expect(notABank.code).toBe('REGISTRY_FINANCE_REFERENCE_UNKNOWN');
        expect(notABank.details).toMatchObject({ field: 'lender', role: 'bank' });
        expect(hasCode(await rejection(store.putLoan(loan(id, p.bank, uid('ghost'), site, 'yz-hotel'), { recordedAtMs: at(0) })), 'REGISTRY_FINANCE_REFERENCE_UNKNOWN')).toBe(true);
        expect(await store.getLoan(id)).toBeUndefined();
      });

      it('keeps effective-dated balances with corrections, read on a date as of a time', async () => {
        const p = await parties();
        const site = uid('site');
        const id = uid('loan');
        await store.putLoan(loan(id, p.bank, p.owner, site, 'yz-hotel'), { recordedAtMs: at(1) });
        await store.putLoanBalance({ loanId: id, effectiveFrom: '2025-03-01', outstandingCny: 300_000_000 }, { recordedAtMs: at(10) });
        await store.putLoanBalance({ loanId: id, effectiveFrom: '2025-12-31', outstandingCny: 285_000_000.5 }, { recordedAtMs: at(20) });
        const fixed = await store.putLoanBalance({ loanId: id, effectiveFrom: '2025-12-31', outstandingCny: 284_500_000 }, { recordedAtMs: at(30) });
        expect(fixed).toMatchObject({ version: 3, created: true });
        const same = await store.putLoanBalance({ loanId: id, effectiveFrom: '2025-12-31', outstandingCny: 284_500_000 }, { recordedAtMs: at(31) });
        expect(same).toMatchObject({ version: 3, created: false });

        expect((await store.loanBalances(id)).map((v) => [v.value.effectiveFrom, v.value.outstandingCny, v.version])).toEqual([
          ['2025-03-01', 300_000_000, 1],
          ['2025-12-31', 284_500_000, 3],
        ]);
        expect((await store.loanBalances(id, { asOfMs: at(25) })).map((v) => v.value.outstandingCny)).toEqual([300_000_000, 285_000_000.5]);
        expect((await store.getLoanBalance(id, { effectiveOn: '2025-12-30' }))?.value.outstandingCny).toBe(300_000_000);
        expect((await store.getLoanBalance(id, { effectiveOn: '2026-06-30' }))?.value.outstandingCny).toBe(284_500_000);
        expect((await store.getLoanBalance(id, { effectiveOn: '2026-06-30', asOfMs: at(25) }))?.value.outstandingCny).toBe(285_000_000.5);
        expect((await store.getLoanBalance(id))?.value.outstandingCny).toBe(284_500_000);
        expect(await store.getLoanBalance(id, { effectiveOn: '2025-02-28' })).toBeUndefined();
        expect(await store.loanBalances(uid('none'))).toEqual([]);

        const early = await rejection(store.putLoanBalance({ loanId: id, effectiveFrom: '2025-02-28', outstandingCny: 1 }, { recordedAtMs: at(40) }));
        expect(early.code).toBe('REGISTRY_FINANCE_INVALID');
        expect(issuesOf(early).map((i) => i.path)).toEqual(['effectiveFrom']);
        expect(hasCode(await rejection(store.putLoanBalance({ loanId: id, effectiveFrom: '2026-01-01', outstandingCny: -1 }, { recordedAtMs: at(40) })), 'REGISTRY_FINANCE_INVALID')).toBe(true);
        expect(hasCode(await rejection(store.putLoanBalance({ loanId: uid('ghost'), effectiveFrom: '2026-01-01', outstandingCny: 1 }, { recordedAtMs: at(40) })), 'REGISTRY_FINANCE_REFERENCE_UNKNOWN')).toBe(true);
        const backDated = await rejection(store.putLoanBalance({ loanId: id, effectiveFrom: '2026-03-01', outstandingCny: 1 }, { recordedAtMs: at(29) }));
        expect(backDated.code).toBe('REGISTRY_FINANCE_OUT_OF_ORDER');
      });
    });

    describe('policies', () => {
      it('stores policies as versions and lists them by insurer, insured and building as of a time', async () => {
        const p = await parties();
        const site = uid('site');
        const id = uid('policy');
        const v1 = await store.putPolicy(policy(id, p.insurer, p.owner, site, 'yz-hotel'), { recordedAtMs: at(10) });
        expect(v1.value).toEqual(policy(id, p.insurer, p.owner, site, 'yz-hotel'));
        // Renewal: a third year.
        const renewed = policy(id, p.insurer, p.owner, site, 'yz-hotel', { effectiveTo: '2028-03-01' });
        renewed.periods = [...renewed.periods, { id: 'y3', from: '2027-03-01', to: '2028-03-01', guaranteedSavingsKwh: 550_000 }];
        await store.putPolicy(renewed, { recordedAtMs: at(20) });

        expect((await store.getPolicy(id))?.value.periods.map((x) => x.id)).toEqual(['y1', 'y2', 'y3']);
        expect((await store.getPolicy(id, { asOfMs: at(10) }))?.value.periods.map((x) => x.id)).toEqual(['y1', 'y2']);
        expect((await store.policyHistory(id)).map((v) => v.version)).toEqual([1, 2]);
        expect((await store.listPolicies({ insurer: p.insurer })).map((v) => [v.value.id, v.version])).toEqual([[id, 2]]);
        expect((await store.listPolicies({ insured: p.owner, building: { site, building: 'yz-hotel' } })).map((v) => v.value.id)).toEqual([id]);
        expect(await store.listPolicies({ insurer: p.insurer, building: { site, building: 'yz-mall' } })).toEqual([]);
        expect(await store.listPolicies({ insurer: p.insurer, asOfMs: at(9) })).toEqual([]);
      });

      it('refuses overlapping or out-of-range periods, meters outside the buildings and insurers without the role', async () => {
        const p = await parties();
        const site = uid('site');
        const id = uid('policy');
        const bad = policy(id, p.insurer, p.insurer, site, 'yz-hotel', {
          meters: [{ site, building: 'yz-mall', meter: 'elec-main' }],
          periods: [
            { id: 'y1', from: '2025-03-01', to: '2026-03-01', guaranteedSavingsKwh: 1 },
            { id: 'y2', from: '2026-02-01', to: '2027-03-01', guaranteedSavingsKwh: 1 },
            { id: 'y3', from: '2027-03-01', to: '2027-03-01', guaranteedSavingsKwh: 1 },
            { id: 'y4', from: '2027-03-01', to: '2028-03-01', guaranteedSavingsKwh: 1 },
          ],
          deductibleCny: -1,
        });
        const err = await rejection(store.putPolicy(bad, { recordedAtMs: at(0) }));
        expect(err.code).toBe('REGISTRY_FINANCE_INVALID');
        const issues = issuesOf(err);
        const paths = issues.map((i) => i.path);
        for (const path of ['insured', 'meters[0]', 'periods[1]', 'periods[2].to', 'periods[3]', 'deductibleCny']) expect(paths, path).toContain(path);
        expect(issues.find((i) => i.path === 'periods[1]' && /overlaps/.test(i.message))?.message).toContain('y1');
        expect(issues.find((i) => i.path === 'periods[3]')?.message).toMatch(/outside the policy/);
        expect(await store.getPolicy(id)).toBeUndefined();

        const notInsurer = await rejection(store.putPolicy(policy(id, p.bank, p.owner, site, 'yz-hotel'), { recordedAtMs: at(0) }));
        expect(notInsurer.code).toBe('REGISTRY_FINANCE_REFERENCE_UNKNOWN');
        expect(notInsurer.details).toMatchObject({ field: 'insurer', role: 'insurer' });
      });
    });

    if (options.sharedAcrossInstances) {
      it('a second instance on the same location sees the versions; after reopening, as-of reads give the same answers', async () => {
        const p = await parties();
        const site = uid('site');
        const id = uid('loan');
        await store.putLoan(loan(id, p.bank, p.owner, site, 'yz-hotel'), { recordedAtMs: at(10) });
        const other = await openStore();
        expect((await other.getLoan(id))?.version).toBe(1);
        const amended = loan(id, p.bank, p.owner, site, 'yz-hotel', { baseMarginBp: -25 });
        await other.putLoan(amended, { recordedAtMs: at(20) });
        expect((await store.getLoan(id))?.value.baseMarginBp).toBe(-25);
        expect((await store.putLoan(amended, { recordedAtMs: at(30) })).created).toBe(false);

        const before = { current: await store.getLoan(id), asOf: await store.getLoan(id, { asOfMs: at(15) }), history: await store.loanHistory(id) };
        await other.close();
        const reopened = await openStore();
        expect(await reopened.getLoan(id)).toEqual(before.current);
        expect(await reopened.getLoan(id, { asOfMs: at(15) })).toEqual(before.asOf);
        expect(await reopened.loanHistory(id)).toEqual(before.history);
        expect((await reopened.getParty(p.bank))?.value.nameZh).toBe('重庆示范银行');
      });
    }
  });
}
