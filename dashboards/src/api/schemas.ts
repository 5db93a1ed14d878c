/** Request and response schemas of the HTTP API, built from the contract's own enums. */
import { z } from 'zod';
import { BUCKETS, ID_PATTERN, KINDS, QUANTITIES, UNIT_NAMES, resolveTimestamp, type Unit } from '@wattproof/core';

export const id = z.string().regex(ID_PATTERN, 'an id of [A-Za-z0-9_.-], starting with a letter or digit, at most 64 characters');

/** A time parameter: ISO 8601 with offset, or epoch ms. */
export const timeParam = z
  .string()
  .transform((v, ctx) => {
    // An unencoded `+` of an offset arrives as a space (form encoding): read it back as `+`.
    const r = resolveTimestamp(/^\d+$/.test(v) ? Number(v) : v.replace(/ (\d{2}:\d{2})$/, '+$1'));
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.message });
      return z.NEVER;
    }
    return r.ms;
  })
  .describe('ISO 8601 with offset (2026-11-30T08:00:00+08:00) or epoch milliseconds');

export const meterParams = z.object({ site: id, building: id, meter: id });

export const errorBody = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

export const siteOut = z.object({
  id: z.string(),
  name: z.string().optional(),
  timezone: z.string(),
  latitude: z.number().optional(),
  longitude: z.number().optional(),
});
export const buildingOut = z.object({
  site: z.string(),
  id: z.string(),
  name: z.string().optional(),
  type: z.string().optional(),
  floorAreaM2: z.number().optional(),
});
export const meterOut = z.object({
  site: z.string(),
  building: z.string(),
  meter: z.string(),
  name: z.string().optional(),
  quantity: z.enum(QUANTITIES).optional(),
  endUse: z.string().optional(),
  parent: z.string().optional(),
});
const unitEnum = z.enum(UNIT_NAMES as [Unit, ...Unit[]]);
export const seriesOut = z.object({
  site: z.string(),
  building: z.string(),
  meter: z.string(),
  quantity: z.enum(QUANTITIES),
  kind: z.enum(KINDS),
  unit: unitEnum,
});
export const readingOut = seriesOut.extend({
  ts: z.number().describe('epoch ms; start of the interval for kind interval'),
  time: z.string().describe('ts as ISO 8601 UTC'),
  value: z.number(),
  intervalS: z.number().optional(),
});
export const aggregateOut = z.object({
  start: z.number(),
  end: z.number(),
  time: z.string(),
  count: z.number(),
  sum: z.number(),
  mean: z.number(),
  min: z.number(),
  max: z.number(),
  coveredS: z.number().nullable(),
  coverage: z.number().nullable().describe('share of the bucket covered by interval readings (0..1); null for instant/register series'),
});
/** An IANA time zone name that this runtime knows (e.g. Asia/Shanghai). */
export const timeZoneSchema = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'an IANA time zone such as Asia/Shanghai');

export const readingsQuery = z.object({
  from: timeParam.optional(),
  to: timeParam.optional(),
  quantity: z.enum(QUANTITIES).optional(),
  kind: z.enum(KINDS).optional(),
  bucket: z.enum(BUCKETS).optional().describe('aggregate into 15m, 1h, local day or local month buckets; raw readings when absent'),
  tz: timeZoneSchema.optional().describe('time zone for day/month buckets; the site\'s by default'),
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
});
export const deadLetterOut = z.object({
  id: z.string(),
  receivedAtMs: z.number(),
  receivedAt: z.string(),
  source: z.enum(['gateway', 'ingest', 'api']),
  topic: z.string(),
  clientId: z.string().optional(),
  username: z.string().optional(),
  code: z.string(),
  reason: z.string(),
  details: z.unknown().optional(),
  payload: z.string(),
  payloadEncoding: z.enum(['utf8', 'base64']),
  payloadBytes: z.number(),
  truncated: z.boolean(),
});
export const deadLettersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.string().max(100).optional().describe('cursor: the id of the last dead letter of the previous page'),
  code: z.string().max(100).optional(),
  source: z.enum(['gateway', 'ingest', 'api']).optional(),
  site: id.optional(),
  building: id.optional().describe('only the messages of this building of `site` (topics under `wattproof/v1/<site>/<building>/`)'),
});
export const registerEventOut = z.object({
  site: z.string(),
  building: z.string(),
  meter: z.string(),
  quantity: z.enum(QUANTITIES),
  ts: z.number(),
  type: z.enum(['rollover', 'reset', 'replacement', 'out_of_order']),
  previousValue: z.number(),
  value: z.number(),
  detectedAtMs: z.number(),
  note: z.string().optional(),
});
