/** Request and response schemas of the console's data endpoints (they appear in the OpenAPI document at /docs). */
import { z } from 'zod';
import { BUCKETS } from '@wattproof/core';
import { id, timeParam, timeZoneSchema } from '../api/schemas.js';

export const formatParam = z.enum(['json', 'csv']).default('json').describe('`csv`: text/csv with a header row, ISO 8601 times and units in the column names');

const tzParam = timeZoneSchema
  .optional()
  .describe("time zone of local days and months; the site's by default");

export const buildingParams = z.object({ site: id, building: id });

const nullableNumber = z.number().nullable();

export const euiOut = z
  .object({
    value: z.number().describe('kWh/(m²·a)'),
    windowDays: z.number(),
    quota: z
      .object({ buildingType: z.string(), label: z.string(), constraint: z.number(), guide: z.number(), confirmed: z.boolean(), meetsConstraint: z.boolean(), meetsGuide: z.boolean(), reference: z.string() })
      .nullable()
      .describe('GB/T 51161 quota of the building type, when the reference table has one'),
  })
  .nullable();

export const buildingSummaryOut = z.object({
  site: z.string(),
  id: z.string(),
  name: z.string().nullable(),
  type: z.string().nullable(),
  floorAreaM2: nullableNumber,
  meters: z.number(),
  mainMeters: z.array(z.string()),
  liveKw: nullableNumber.describe('mean power of the latest interval of the main electricity meters, kW'),
  liveAt: nullableNumber.describe('end of that interval, epoch ms'),
  todayKwh: nullableNumber.describe('main-meter electricity since local midnight, kWh'),
  coverage30d: nullableNumber.describe('share of the last 30 days covered by main-meter intervals, 0..1'),
  eui: euiOut.describe('rolling 12-month EUI of the main meters against the GB/T 51161 quota'),
});

export const portfolioQuery = z.object({ site: id.optional(), format: formatParam });
export const portfolioOut = z.object({
  generatedAt: z.number(),
  sites: z.array(z.object({ id: z.string(), name: z.string().nullable(), timezone: z.string(), latitude: nullableNumber, longitude: nullableNumber, buildings: z.array(buildingSummaryOut) })),
});

const roleOut = z.enum(['main', 'sub', 'generation', 'weather', 'other']);

export const overviewQuery = z.object({ format: formatParam });
export const overviewOut = z.object({
  site: z.object({ id: z.string(), name: z.string().nullable(), timezone: z.string() }),
  building: buildingSummaryOut,
  meters: z.array(
    z.object({
      meter: z.string(),
      name: z.string().nullable(),
      role: roleOut,
      quantity: z.string().nullable(),
      endUse: z.string().nullable(),
      parent: z.string().nullable(),
      series: z.array(z.object({ quantity: z.string(), kind: z.string(), unit: z.string() })),
      latest: z.array(z.object({ quantity: z.string(), kind: z.string(), unit: z.string(), ts: z.number(), value: z.number(), intervalS: z.number().optional() })),
    }),
  ),
  mvAvailable: z.boolean(),
});

export const timeseriesQuery = z.object({
  bucket: z.enum(BUCKETS).default('1h'),
  from: timeParam.optional().describe('default: `to` minus 1 day (15m), 365 days (1h, 1d) or 3 years (1mo)'),
  to: timeParam.optional().describe('default: now'),
  meters: z
    .string()
    .max(2000)
    .optional()
    .transform((v) => (v ? v.split(',').map((m) => m.trim()).filter(Boolean) : undefined))
    .describe('comma-separated meter ids; every meter of the building by default'),
  tz: tzParam,
  format: formatParam,
});
export const timeseriesOut = z.object({
  site: z.string(),
  building: z.string(),
  bucket: z.string(),
  tz: z.string(),
  from: z.number(),
  to: z.number(),
  time: z.array(z.number()).describe('bucket starts, epoch ms'),
  series: z.array(
    z.object({
      site: z.string(),
      building: z.string(),
      meter: z.string(),
      quantity: z.string(),
      kind: z.string(),
      unit: z.string(),
      role: roleOut,
      endUse: z.string().nullable(),
      parent: z.string().nullable(),
      values: z.array(nullableNumber).describe('per bucket of `time`: sum (interval) or mean (instant); null = no reading'),
    }),
  ),
});

export const savingsQuery = z.object({ meter: id.optional(), format: formatParam });
const finding = z.object({ code: z.string(), message: z.string() });
export const savingsOut = z.object({
  available: z.boolean().describe('false when this API process runs no M&V jobs'),
  results: z.array(
    z.object({
      meter: z.string(),
      resultId: z.string(),
      ranAtMs: z.number(),
      status: z.string(),
      unit: z.string(),
      model: z.object({ kind: z.string(), type: z.string(), r2Adjusted: z.number(), cvrmse: z.number(), nmbe: z.number(), n: z.number() }),
      g14Passed: z.boolean(),
      baseline: z.object({ start: z.string(), end: z.string() }),
      reporting: z.object({ start: z.string(), end: z.string() }),
      totals: z.object({ counterfactual: z.number(), observed: z.number(), avoided: z.number(), fraction: nullableNumber, uncertainty90: nullableNumber }),
      warnings: z.array(finding),
      disqualifications: z.array(finding),
      override: z.object({ reason: z.string(), by: z.string() }).nullable(),
      eui: z.object({ value: z.number(), constraint: nullableNumber, guide: nullableNumber }).nullable(),
      avoidedTco2: nullableNumber,
      monthly: z.object({ period: z.array(z.string()), counterfactual: z.array(z.number()), observed: z.array(z.number()), avoided: z.array(z.number()), uncertainty90: z.array(nullableNumber) }),
      cumulative: z.object({ period: z.array(z.string()), avoided: z.array(z.number()), uncertainty90: z.array(nullableNumber) }),
    }),
  ),
});

export const coverageQuery = z.object({
  site: id.optional(),
  building: id.optional(),
  bucket: z.enum(['1d', '1mo']).default('1d'),
  from: timeParam.optional().describe('default: `to` minus 90 days (1d) or 365 days (1mo)'),
  to: timeParam.optional().describe('default: now'),
  tz: tzParam,
  format: formatParam,
});
export const coverageOut = z.object({
  bucket: z.string(),
  tz: z.string(),
  from: z.number(),
  to: z.number(),
  time: z.array(z.number()),
  series: z.array(
    z.object({
      site: z.string(),
      building: z.string(),
      meter: z.string(),
      quantity: z.string(),
      kind: z.string(),
      unit: z.string(),
      coverage: z.array(z.number()),
      count: z.array(z.number()),
      lastTs: nullableNumber,
    }),
  ),
  gaps: z.array(z.object({ site: z.string(), building: z.string(), meter: z.string(), quantity: z.string(), kind: z.string(), from: z.number(), to: z.number(), buckets: z.number(), empty: z.boolean() })),
});

export const streamQuery = z.object({ site: id.optional(), building: id.optional() });
