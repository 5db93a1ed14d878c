/**
 * Finance registry schemas (DOMAIN.md §4–6): the parties, effective-dated building profiles,
 * loans with their covenants and balances, and insurance policies that the covenant, insurance
 * and PCAF computations read. The zod schemas are the single source of truth; the types are
 * inferred from them. Every date is a local calendar date `YYYY-MM-DD` (Asia/Shanghai for the
 * Chongqing pilot); ranges are half-open: `from` inclusive, `to` exclusive. Money is in CNY
 * (`…Cny`), margins in basis points (`…Bp`), energy in kWh, areas in m².
 *
 * Parsing never throws: use `schema.safeParse(value)` and {@link financeIssues} to list what is
 * wrong, each issue naming the field path (`covenants[0].schedule.firstTestDate`). Rules across
 * fields (dates in order, covenants within their loan, periods not overlapping) run once every
 * field has the right type, so a value with a type error reports those first.
 * docs/finance-registry.md describes the entities for people.
 */
import { z } from 'zod';
import { ID_PATTERN, type MeterRef } from './contract/topics.js';
import { formatPath } from './contract/message.js';

// ---------------------------------------------------------------------------------------------
// Building blocks

/** A local calendar date `YYYY-MM-DD`. */
export const FINANCE_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** True when `s` is `YYYY-MM-DD` and names a real day (2025-02-29 is not one). */
export function isFinanceDate(s: string): boolean {
  if (!FINANCE_DATE_PATTERN.test(s)) return false;
  const [y, m, d] = s.split('-').map(Number) as [number, number, number];
  if (y < 1900 || y > 2999) return false;
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** Largest money amount accepted (CNY), 10^15: beyond it a value is a unit mistake, not a loan. */
export const FINANCE_MAX_AMOUNT_CNY = 1e15;
/** Largest margin or ratchet step accepted, in basis points (±100 %). */
export const FINANCE_MAX_BP = 10_000;
/** Longest free-text field (names, certificate ids). */
export const FINANCE_MAX_TEXT_LENGTH = 200;

/** An id of a party, loan, covenant, policy or period; same grammar as site/building/meter ids. */
export const financeIdSchema = z
  .string()
  .regex(ID_PATTERN, 'must be an id: a letter or digit, then letters, digits, `_`, `.`, `-`; at most 64 characters')
  .describe('Id: a letter or digit, then letters, digits, `_`, `.`, `-`; at most 64 characters');

/** A local date `YYYY-MM-DD` that exists in the calendar. */
export const financeDateSchema = z
  .string()
  .refine(isFinanceDate, { message: 'must be a calendar date YYYY-MM-DD (e.g. 2026-01-31)' })
  .describe('Local calendar date YYYY-MM-DD');

/** A non-negative, finite money amount in CNY. */
export const amountCnySchema = z
  .number({ message: 'must be a number (CNY)' })
  .finite('must be finite')
  .min(0, 'must be ≥ 0')
  .max(FINANCE_MAX_AMOUNT_CNY, `must be ≤ ${FINANCE_MAX_AMOUNT_CNY}`);

const textSchema = z.string().trim().min(1, 'must not be empty').max(FINANCE_MAX_TEXT_LENGTH, `must be at most ${FINANCE_MAX_TEXT_LENGTH} characters`);

const bpSchema = z.number().finite('must be finite').min(-FINANCE_MAX_BP).max(FINANCE_MAX_BP);

/** A building: `{ site, building }`. */
export const buildingRefSchema = z.strictObject({
  site: financeIdSchema,
  building: financeIdSchema,
});
export type BuildingRef = z.output<typeof buildingRefSchema>;

/** A meter: `{ site, building, meter }`. */
export const meterRefSchema = z.strictObject({
  site: financeIdSchema,
  building: financeIdSchema,
  meter: financeIdSchema,
}) satisfies z.ZodType<MeterRef>;

/** `site/building`, the key of a building in the finance registry. */
export function buildingKey(ref: BuildingRef): string {
  return `${ref.site}/${ref.building}`;
}

function addDuplicateIssues(ctx: z.RefinementCtx, keys: readonly string[], path: (i: number) => PropertyKey[], what: string): void {
  const seen = new Map<string, number>();
  keys.forEach((k, i) => {
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else ctx.addIssue({ code: 'custom', path: path(i), message: `duplicate ${what} ${k} (also at index ${first})` });
  });
}

// ---------------------------------------------------------------------------------------------
// Parties

/** What a party is to the registry's contracts. */
export const PARTY_ROLES = ['owner', 'operator', 'bank', 'insurer', 'verifier'] as const;
export type PartyRole = (typeof PARTY_ROLES)[number];

// GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z); the last is a mod-31 check.
const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** True when `code` is a unified social credit code with a correct check character (GB 32100-2015). */
export function isUnifiedSocialCreditCode(code: string): boolean {
  if (code.length !== 18) return false;
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = USCC_ALPHABET.indexOf(code[i]!);
    if (v < 0) return false;
    sum += v * USCC_WEIGHTS[i]!;
  }
  const check = (31 - (sum % 31)) % 31;
  return USCC_ALPHABET[check] === code[17];
}

/** A company or institution: building owner, operator, bank, insurer or independent verifier. */
export const partySchema = z.strictObject({
  id: financeIdSchema,
  name: textSchema.describe('Name, as on the contracts'),
  nameZh: textSchema.optional().describe('Chinese name, e.g. 重庆渝中示范酒店有限公司'),
  roles: z
    .array(z.enum(PARTY_ROLES))
    .min(1, 'a party needs at least one role')
    .refine((r) => new Set(r).size === r.length, 'roles must not repeat')
    .describe('What the party is: owner, operator, bank, insurer, verifier'),
  unifiedSocialCreditCode: z
    .string()
    .refine(isUnifiedSocialCreditCode, 'must be an 18-character unified social credit code with a valid check character (GB 32100-2015)')
    .optional()
    .describe('统一社会信用代码, 18 characters (GB 32100-2015)'),
});
export type Party = z.output<typeof partySchema>;
export type PartyInput = z.input<typeof partySchema>;

// ---------------------------------------------------------------------------------------------
// Building profiles

/** Building types of GB/T 51161-2016 (energy-use quotas), plus `other`. */
export const BUILDING_TYPES = ['office_a', 'office_b', 'government_a', 'government_b', 'hotel', 'mall', 'school', 'other'] as const;
export type BuildingType = (typeof BUILDING_TYPES)[number];

/** Levels of a GB/T 50378-2019 green-building label, lowest first. */
export const GREEN_LABEL_LEVELS = ['basic', '1-star', '2-star', '3-star'] as const;
export type GreenLabelLevel = (typeof GREEN_LABEL_LEVELS)[number];

/** Rank of a label level: basic 0, 1-star 1, 2-star 2, 3-star 3 (the `label_maintained` threshold scale). */
export function greenLabelRank(level: GreenLabelLevel): number {
  return GREEN_LABEL_LEVELS.indexOf(level);
}

/** A green-building label (GB/T 50378-2019), valid over [validFrom, validTo). */
export const greenLabelSchema = z
  .strictObject({
    scheme: z.literal('GB/T 50378-2019'),
    level: z.enum(GREEN_LABEL_LEVELS),
    kind: z.enum(['design', 'operation']).describe('Design label (before completion) or operation label'),
    validFrom: financeDateSchema,
    validTo: financeDateSchema.describe('Exclusive'),
    certificateId: textSchema.optional(),
  })
  .superRefine((l, ctx) => {
    if (isFinanceDate(l.validFrom) && isFinanceDate(l.validTo) && l.validFrom >= l.validTo) {
      ctx.addIssue({ code: 'custom', path: ['validTo'], message: `must be after validFrom (${l.validFrom})` });
    }
  });
export type GreenLabel = z.output<typeof greenLabelSchema>;

/**
 * The finance-relevant attributes of a building from `effectiveFrom` on (until the next
 * profile's `effectiveFrom`): GB/T 51161 type, gross floor area (the EUI denominator), owner,
 * operator and green label. A change (an extension, a new owner, a new label) is a new profile.
 */
export const buildingProfileSchema = z.strictObject({
  site: financeIdSchema,
  building: financeIdSchema,
  effectiveFrom: financeDateSchema.describe('First local day these attributes hold'),
  type: z.enum(BUILDING_TYPES).describe('GB/T 51161-2016 building type'),
  floorAreaM2: z.number().finite().positive('must be > 0 m²').max(1e8).describe('Gross floor area, m²'),
  ownerParty: financeIdSchema.optional(),
  operatorParty: financeIdSchema.optional(),
  label: greenLabelSchema.optional(),
});
export type BuildingProfile = z.output<typeof buildingProfileSchema>;
export type BuildingProfileInput = z.input<typeof buildingProfileSchema>;

// ---------------------------------------------------------------------------------------------
// Covenants

/**
 * KPIs a covenant can test (DOMAIN.md §5): weather-normalized or metered savings as a fraction of
 * the baseline (0.1 = 10 %), EUI in kWh/m²·a, carbon intensity in kgCO2e/m²·a, data coverage as a
 * fraction of intervals present, and whether the green label is kept at a minimum level.
 */
export const COVENANT_KPIS = ['savings_fraction', 'eui_kwh_per_m2', 'carbon_intensity_kgco2e_per_m2', 'data_coverage_fraction', 'label_maintained'] as const;
export type CovenantKpi = (typeof COVENANT_KPIS)[number];

/** How the KPI value compares with the threshold for the test to pass: `kpi <op> threshold`. */
export const COVENANT_OPERATORS = ['>=', '<=', '>', '<'] as const;
export type CovenantOperator = (typeof COVENANT_OPERATORS)[number];

export const COVENANT_FREQUENCIES = ['monthly', 'quarterly', 'annual'] as const;
export type CovenantFrequency = (typeof COVENANT_FREQUENCIES)[number];

/** Months between two tests of each frequency. */
export const COVENANT_FREQUENCY_MONTHS: Readonly<Record<CovenantFrequency, number>> = { monthly: 1, quarterly: 3, annual: 12 };

/** Default probability of failing the next test at or above which a covenant is "at risk". */
export const DEFAULT_AT_RISK_PROBABILITY = 0.2;
/** Default KPI window: the 12 months ending at the test date (one full seasonal cycle). */
export const DEFAULT_MEASUREMENT_WINDOW_MONTHS = 12;

/**
 * A covenant as data. A test on each scheduled date computes the KPI over the
 * `measurementWindowMonths` ending at that date and passes when `kpi <operator> threshold`.
 *
 * `threshold` is always a number in the KPI's unit: a fraction for `savings_fraction` (−1..1)
 * and `data_coverage_fraction` (0..1); kWh/m²·a or kgCO2e/m²·a (≥ 0); for `label_maintained`
 * the minimum label **rank** 0..3 (basic 0, 1-star 1, 2-star 2, 3-star 3; see greenLabelRank),
 * with operator `>=` only (the KPI is the rank of the label valid on the test date, −1 when none).
 */
export const covenantSpecSchema = z
  .strictObject({
    id: financeIdSchema,
    kpi: z.enum(COVENANT_KPIS),
    scope: z
      .strictObject({ site: financeIdSchema, building: financeIdSchema, meter: financeIdSchema.optional() })
      .describe('The building the KPI is about; `meter` narrows savings/coverage to one meter (default: the main meter chosen by the KPI)'),
    operator: z.enum(COVENANT_OPERATORS),
    threshold: z.number().finite('must be finite'),
    schedule: z.strictObject({
      frequency: z.enum(COVENANT_FREQUENCIES),
      firstTestDate: financeDateSchema.describe('First test date; later tests follow every 1, 3 or 12 months on the same day of month (clamped to the month end)'),
      measurementWindowMonths: z
        .number()
        .int('must be a whole number of months')
        .min(1, 'must be ≥ 1 month')
        .max(120, 'must be ≤ 120 months')
        .default(DEFAULT_MEASUREMENT_WINDOW_MONTHS)
        .describe('Months of the KPI window ending at the test date'),
    }),
    graceDays: z.number().int('must be a whole number of days').min(0).max(366).default(0).describe('Days after the test date before a failure counts (late data, cure notice)'),
    cure: z
      .strictObject({
        periods: z.number().int().min(0).max(100).default(0).describe('Consecutive failing tests tolerated before a breach (0: the first failure is a breach)'),
      })
      .default({ periods: 0 }),
    ratchet: z
      .strictObject({
        bpOnPass: bpSchema.default(0).describe('Margin change in bp after a passed test (negative = margin down)'),
        bpOnFail: bpSchema.default(0).describe('Margin change in bp after a failed test'),
      })
      .default({ bpOnPass: 0, bpOnFail: 0 }),
    atRiskProbability: z
      .number()
      .gt(0, 'must be > 0')
      .max(1, 'must be ≤ 1')
      .default(DEFAULT_AT_RISK_PROBABILITY)
      .describe('At risk when P(fail at the next test) ≥ this'),
    kpiOptions: z
      .strictObject({
        mvDefinitionId: z.string().min(1).max(FINANCE_MAX_TEXT_LENGTH).optional().describe('M&V definition (baseline model) the savings come from'),
        confidence: z.number().gt(0).lt(1).optional().describe('Confidence level of the KPI interval, e.g. 0.9'),
        normalized: z.boolean().optional().describe('Weather-normalized savings (true) or avoided energy use under reporting conditions'),
      })
      .optional(),
  })
  .superRefine((c, ctx) => {
    const t = c.threshold;
    const bad = (message: string) => ctx.addIssue({ code: 'custom', path: ['threshold'], message });
    switch (c.kpi) {
      case 'savings_fraction':
        if (t < -1 || t > 1) bad('a savings fraction threshold must be within -1..1 (0.1 = 10 %)');
        break;
      case 'data_coverage_fraction':
        if (t < 0 || t > 1) bad('a data coverage threshold must be within 0..1 (0.95 = 95 %)');
        break;
      case 'eui_kwh_per_m2':
      case 'carbon_intensity_kgco2e_per_m2':
        if (t < 0) bad('an intensity threshold must be ≥ 0');
        break;
      case 'label_maintained':
        if (!Number.isInteger(t) || t < 0 || t > 3) bad('label_maintained takes the minimum label rank 0..3 (basic 0, 1-star 1, 2-star 2, 3-star 3)');
        if (c.operator !== '>=') ctx.addIssue({ code: 'custom', path: ['operator'], message: 'label_maintained takes operator >= only' });
        if (c.scope.meter !== undefined) ctx.addIssue({ code: 'custom', path: ['scope', 'meter'], message: 'label_maintained is about a building, not a meter' });
        break;
    }
  });
export type CovenantSpec = z.output<typeof covenantSpecSchema>;
export type CovenantSpecInput = z.input<typeof covenantSpecSchema>;

// ---------------------------------------------------------------------------------------------
// Loans

export const LOAN_KINDS = ['green_loan', 'sustainability_linked_loan'] as const;
export type LoanKind = (typeof LOAN_KINDS)[number];
/** PCAF asset classes the registry covers. */
export const LOAN_ASSET_CLASSES = ['commercial_real_estate', 'mortgage'] as const;
export type LoanAssetClass = (typeof LOAN_ASSET_CLASSES)[number];

/**
 * A loan secured on (or financing) one or more buildings. A sustainability-linked loan has at
 * least one covenant; a green loan may have none (it reports impact, DOMAIN.md §5). Every
 * covenant's scope is one of the loan's buildings and its first test falls in
 * (originationDate, maturityDate]. `baseMarginBp` is the margin over the reference rate (LPR)
 * and may be negative.
 */
export const loanSchema = z
  .strictObject({
    id: financeIdSchema,
    borrower: financeIdSchema.describe('Party id of the borrower'),
    lender: financeIdSchema.describe('Party id of the lending bank'),
    kind: z.enum(LOAN_KINDS),
    assetClass: z.enum(LOAN_ASSET_CLASSES),
    currency: z.literal('CNY'),
    buildings: z.array(buildingRefSchema).min(1, 'a loan covers at least one building'),
    originationDate: financeDateSchema,
    maturityDate: financeDateSchema,
    propertyValueAtOriginationCny: amountCnySchema.refine((v) => v > 0, 'must be > 0 (PCAF attribution divides by it)').describe('Property value at origination, CNY (PCAF denominator)'),
    baseMarginBp: bpSchema.describe('Margin over the reference rate in bp before any ratchet; negative = below it'),
    covenants: z.array(covenantSpecSchema).default([]),
  })
  .superRefine((l, ctx) => {
    if (l.borrower === l.lender) ctx.addIssue({ code: 'custom', path: ['lender'], message: 'lender and borrower must be different parties' });
    const datesOk = isFinanceDate(l.originationDate) && isFinanceDate(l.maturityDate);
    if (datesOk && l.originationDate >= l.maturityDate) {
      ctx.addIssue({ code: 'custom', path: ['maturityDate'], message: `must be after originationDate (${l.originationDate})` });
    }
    addDuplicateIssues(ctx, l.buildings.map(buildingKey), (i) => ['buildings', i], 'building');
    addDuplicateIssues(ctx, l.covenants.map((c) => c.id), (i) => ['covenants', i, 'id'], 'covenant id');
    if (l.kind === 'sustainability_linked_loan' && l.covenants.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['covenants'], message: 'a sustainability-linked loan needs at least one covenant (its KPIs)' });
    }
    const keys = new Set(l.buildings.map(buildingKey));
    l.covenants.forEach((c, i) => {
      if (!keys.has(buildingKey(c.scope))) {
        ctx.addIssue({ code: 'custom', path: ['covenants', i, 'scope'], message: `building ${buildingKey(c.scope)} is not one of the loan's buildings` });
      }
      const first = c.schedule.firstTestDate;
      if (datesOk && isFinanceDate(first) && (first <= l.originationDate || first > l.maturityDate)) {
        ctx.addIssue({
          code: 'custom',
          path: ['covenants', i, 'schedule', 'firstTestDate'],
          message: `must be after originationDate (${l.originationDate}) and not after maturityDate (${l.maturityDate})`,
        });
      }
    });
  });
export type Loan = z.output<typeof loanSchema>;
export type LoanInput = z.input<typeof loanSchema>;

/** The outstanding amount of a loan from `effectiveFrom` on (until the next balance). */
export const loanBalanceSchema = z.strictObject({
  loanId: financeIdSchema,
  effectiveFrom: financeDateSchema,
  outstandingCny: amountCnySchema.describe('Outstanding principal, CNY (PCAF numerator)'),
});
export type LoanBalance = z.output<typeof loanBalanceSchema>;

// ---------------------------------------------------------------------------------------------
// Insurance policies

/** One reconciliation period of a policy, [from, to), with the savings the policy guarantees in it. */
export const policyPeriodSchema = z
  .strictObject({
    id: financeIdSchema,
    from: financeDateSchema,
    to: financeDateSchema.describe('Exclusive'),
    guaranteedSavingsKwh: z.number().finite().min(0, 'must be ≥ 0 kWh').max(1e15).describe('Verified savings guaranteed over the period, kWh'),
  })
  .superRefine((p, ctx) => {
    if (isFinanceDate(p.from) && isFinanceDate(p.to) && p.from >= p.to) ctx.addIssue({ code: 'custom', path: ['to'], message: `must be after from (${p.from})` });
  });
export type PolicyPeriod = z.output<typeof policyPeriodSchema>;

/**
 * An energy-savings performance policy (DOMAIN.md §6). Per period:
 * `shortfall = max(0, guaranteed − verified)`, `payout = min(limit, max(0, shortfall × contract
 * price − deductible))`, where verified is the sum of the verified savings of `meters`. Periods
 * lie within [effectiveFrom, effectiveTo) and do not overlap; meters belong to the policy's
 * buildings. `limitCny` and `deductibleCny` apply per period.
 */
export const policySchema = z
  .strictObject({
    id: financeIdSchema,
    insurer: financeIdSchema.describe('Party id of the insurer'),
    insured: financeIdSchema.describe('Party id of the insured (owner, operator or ESCO)'),
    buildings: z.array(buildingRefSchema).min(1, 'a policy covers at least one building'),
    meters: z.array(meterRefSchema).min(1, 'a policy names at least one meter whose verified savings count'),
    mvDefinitionId: z.string().min(1).max(FINANCE_MAX_TEXT_LENGTH).optional().describe('M&V definition whose verified savings settle claims'),
    periods: z.array(policyPeriodSchema).min(1, 'a policy has at least one period'),
    contractPriceCnyPerKwh: z.number().finite().min(0, 'must be ≥ 0').max(1000).describe('Price of a kWh of shortfall fixed in the policy, CNY/kWh (not the current tariff)'),
    deductibleCny: amountCnySchema.describe('Deductible per period, CNY'),
    limitCny: amountCnySchema.describe('Limit of indemnity per period, CNY'),
    premiumCny: amountCnySchema.optional(),
    effectiveFrom: financeDateSchema,
    effectiveTo: financeDateSchema.describe('Exclusive'),
  })
  .superRefine((p, ctx) => {
    if (p.insurer === p.insured) ctx.addIssue({ code: 'custom', path: ['insured'], message: 'insurer and insured must be different parties' });
    const datesOk = isFinanceDate(p.effectiveFrom) && isFinanceDate(p.effectiveTo);
    if (datesOk && p.effectiveFrom >= p.effectiveTo) ctx.addIssue({ code: 'custom', path: ['effectiveTo'], message: `must be after effectiveFrom (${p.effectiveFrom})` });
    addDuplicateIssues(ctx, p.buildings.map(buildingKey), (i) => ['buildings', i], 'building');
    addDuplicateIssues(ctx, p.meters.map((m) => `${m.site}/${m.building}/${m.meter}`), (i) => ['meters', i], 'meter');
    addDuplicateIssues(ctx, p.periods.map((x) => x.id), (i) => ['periods', i, 'id'], 'period id');
    const keys = new Set(p.buildings.map(buildingKey));
    p.meters.forEach((m, i) => {
      if (!keys.has(buildingKey(m))) ctx.addIssue({ code: 'custom', path: ['meters', i], message: `meter's building ${buildingKey(m)} is not one of the policy's buildings` });
    });
    const valid = p.periods.map((x, i) => ({ ...x, i })).filter((x) => isFinanceDate(x.from) && isFinanceDate(x.to) && x.from < x.to);
    for (const x of valid) {
      if (datesOk && (x.from < p.effectiveFrom || x.to > p.effectiveTo)) {
        ctx.addIssue({ code: 'custom', path: ['periods', x.i], message: `period ${x.id} [${x.from}, ${x.to}) is outside the policy [${p.effectiveFrom}, ${p.effectiveTo})` });
      }
    }
    const sorted = [...valid].sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : a.i - b.i));
    for (let k = 1; k < sorted.length; k++) {
      const prev = sorted[k - 1]!;
      const cur = sorted[k]!;
      if (cur.from < prev.to) {
        ctx.addIssue({ code: 'custom', path: ['periods', cur.i], message: `period ${cur.id} [${cur.from}, ${cur.to}) overlaps period ${prev.id} [${prev.from}, ${prev.to})` });
      }
    }
  });
export type Policy = z.output<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;

// ---------------------------------------------------------------------------------------------
// Issues

/** One problem with a finance value: the field path (`covenants[0].threshold`) and what is wrong. */
export interface FinanceIssue {
  readonly path: string;
  readonly message: string;
}

/** Lists a failed parse's problems, each with its field path (empty path: the whole value). */
export function financeIssues(error: z.ZodError): FinanceIssue[] {
  return error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

// ---------------------------------------------------------------------------------------------
// The port: where finance entities are kept

/**
 * One stored version of a finance entity. Versions are never changed or deleted: a correction,
 * an amendment or a new effective date is a new version.
 */
export interface FinanceVersion<T> {
  /** The entity as validated, defaults applied. */
  readonly value: T;
  /**
   * 1 for the first version recorded under the entity's key (a party, loan or policy id; a
   * building `site/building` for its profiles; a loan id for its balances), then 2, 3, …
   */
  readonly version: number;
  /** When the registry learned this version, epoch ms (transaction time; `asOfMs` reads compare with it). */
  readonly recordedAtMs: number;
  /** Where it came from, e.g. `finance load docs/examples/finance.yaml`. */
  readonly source?: string;
}

/** A write's outcome: the version now current, and whether this write created it. */
export interface FinanceWriteResult<T> extends FinanceVersion<T> {
  /** False when the value equals the current version (same key and effective date): nothing was stored. */
  readonly created: boolean;
}

export interface FinanceWriteOptions {
  /**
   * When the registry learns the value, epoch ms (a safe integer ≥ 0): the caller's clock, like
   * `NewRecord.recordedAtMs`. It must not be earlier than the latest version under the same key,
   * so what a past `asOfMs` read returned stays what it returns (REGISTRY_FINANCE_OUT_OF_ORDER).
   */
  readonly recordedAtMs: number;
  /** Provenance, at most FINANCE_MAX_TEXT_LENGTH characters. */
  readonly source?: string;
}

export interface FinanceAsOf {
  /** What the registry knew at this time (epoch ms): only versions with `recordedAtMs ≤ asOfMs`. Default: everything. */
  readonly asOfMs?: number;
}

export interface FinanceEffectiveQuery extends FinanceAsOf {
  /**
   * The local date `YYYY-MM-DD` the attributes must hold on: the version with the latest
   * `effectiveFrom ≤ effectiveOn`. Default: the latest `effectiveFrom` known (which may lie in
   * the future).
   */
  readonly effectiveOn?: string;
}

/**
 * The finance registry (DOMAIN.md §5–7): parties, effective-dated building profiles, loans with
 * covenants and balances, insurance policies — append-only and bitemporal, so a covenant test
 * can be re-run **as of** its test date. Every registry store adapter (memory, JSON lines,
 * PostgreSQL) implements it; each passes test/contract/finance-store.ts.
 *
 * Writes validate with the schemas of this module and check references against the latest
 * versions: the parties a loan, policy or profile names must exist; a loan's lender must have
 * role `bank`, a policy's insurer role `insurer`; a balance's loan must exist and the balance
 * must not start before the loan's origination.
 * @throws REGISTRY_FINANCE_INVALID (with `details.issues`), REGISTRY_FINANCE_REFERENCE_UNKNOWN,
 * REGISTRY_FINANCE_OUT_OF_ORDER; REGISTRY_INPUT_INVALID for a malformed id, date or `asOfMs` in a
 * read; the adapters' REGISTRY_UNAVAILABLE / REGISTRY_WRITE_FAILED / REGISTRY_READ_FAILED.
 */
export interface FinanceStore {
  putParty(party: PartyInput, options: FinanceWriteOptions): Promise<FinanceWriteResult<Party>>;
  getParty(id: string, query?: FinanceAsOf): Promise<FinanceVersion<Party> | undefined>;
  /** Current version of every party (optionally only those with `role`), by id. */
  listParties(query?: FinanceAsOf & { readonly role?: PartyRole }): Promise<FinanceVersion<Party>[]>;
  /** Every version of the party, oldest first. */
  partyHistory(id: string): Promise<FinanceVersion<Party>[]>;

  /** Records the building's attributes from `profile.effectiveFrom` on (a correction of that date supersedes the earlier entry). */
  putBuildingProfile(profile: BuildingProfileInput, options: FinanceWriteOptions): Promise<FinanceWriteResult<BuildingProfile>>;
  getBuildingProfile(ref: BuildingRef, query?: FinanceEffectiveQuery): Promise<FinanceVersion<BuildingProfile> | undefined>;
  /** The effective-dated profiles known (one per building and `effectiveFrom`, its latest version), by site, building, effectiveFrom. */
  listBuildingProfiles(query?: FinanceAsOf & { readonly site?: string; readonly building?: string }): Promise<FinanceVersion<BuildingProfile>[]>;
  /** Every version of every profile of the building, oldest first. */
  buildingProfileHistory(ref: BuildingRef): Promise<FinanceVersion<BuildingProfile>[]>;

  putLoan(loan: LoanInput, options: FinanceWriteOptions): Promise<FinanceWriteResult<Loan>>;
  getLoan(id: string, query?: FinanceAsOf): Promise<FinanceVersion<Loan> | undefined>;
  /** Current version of every loan matching all the filters given, by id. */
  listLoans(query?: FinanceAsOf & { readonly lender?: string; readonly borrower?: string; readonly building?: BuildingRef }): Promise<FinanceVersion<Loan>[]>;
  loanHistory(id: string): Promise<FinanceVersion<Loan>[]>;

  putLoanBalance(balance: LoanBalance, options: FinanceWriteOptions): Promise<FinanceWriteResult<LoanBalance>>;
  /** The loan's balances (one per `effectiveFrom`, its latest version), by effectiveFrom. */
  loanBalances(loanId: string, query?: FinanceAsOf): Promise<FinanceVersion<LoanBalance>[]>;
  /** The balance in force on `effectiveOn` (default: the latest). */
  getLoanBalance(loanId: string, query?: FinanceEffectiveQuery): Promise<FinanceVersion<LoanBalance> | undefined>;

  putPolicy(policy: PolicyInput, options: FinanceWriteOptions): Promise<FinanceWriteResult<Policy>>;
  getPolicy(id: string, query?: FinanceAsOf): Promise<FinanceVersion<Policy> | undefined>;
  /** Current version of every policy matching all the filters given, by id. */
  listPolicies(query?: FinanceAsOf & { readonly insurer?: string; readonly insured?: string; readonly building?: BuildingRef }): Promise<FinanceVersion<Policy>[]>;
  policyHistory(id: string): Promise<FinanceVersion<Policy>[]>;
}
