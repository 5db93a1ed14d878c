/**
 * Error base and catalogue helpers shared by every workspace.
 *
 * Every failure a caller can act on has a stable `code` (never reused), an HTTP-ish
 * `statusCode`, and `retriable` telling whether the same call may succeed later.
 * Callers match on `err.code`, not on `instanceof`.
 */

/** One catalogue entry: what the code means and how to fix it (rendered in docs/errors.md). */
export interface ErrorSpec {
  readonly statusCode: number;
  readonly retriable: boolean;
  readonly meaning: string;
  readonly fix: string;
}

export type ErrorCatalogue = Readonly<Record<string, ErrorSpec>>;

/** Base error with a stable code. `details` is JSON-serialisable data that shows why. */
export class WattproofError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly retriable: boolean;
  readonly details: unknown;

  constructor(
    code: string,
    message: string,
    options: { statusCode?: number; retriable?: boolean; details?: unknown; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'WattproofError';
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
    this.retriable = options.retriable ?? false;
    this.details = options.details;
  }

  toJSON(): { code: string; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/**
 * Defines a workspace's catalogue and returns a typed factory for its errors.
 * @example const err = createErrorFactory(INGEST_ERRORS); throw err('INGEST_STORE_UNAVAILABLE', 'InfluxDB did not answer');
 */
export function createErrorFactory<C extends ErrorCatalogue>(catalogue: C) {
  return (code: keyof C & string, message: string, extra: { details?: unknown; cause?: unknown } = {}) => {
    const spec = catalogue[code];
    if (!spec) throw new Error(`unknown error code ${code}`);
    return new WattproofError(code, message, {
      statusCode: spec.statusCode,
      retriable: spec.retriable,
      details: extra.details,
      cause: extra.cause,
    });
  };
}

/** True when `err` is a WattproofError-like object with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/** Errors of the shared contract and of the core helpers. */
export const CORE_ERRORS = {
  CONTRACT_TOPIC_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The MQTT topic does not follow `wattproof/v1/<site>/<building>/<meter>/readings` (or `/status`), or an id has characters outside `[A-Za-z0-9_.-]`.',
    fix: 'Publish to the topic of the device\'s own meter; ids start with a letter or digit and are at most 64 characters.',
  },
  CONTRACT_PAYLOAD_TOO_LARGE: {
    statusCode: 413,
    retriable: false,
    meaning: 'The payload is larger than the configured limit (default 256 KiB).',
    fix: 'Split the readings over several messages (at most 1,000 readings each).',
  },
  CONTRACT_PAYLOAD_NOT_JSON: {
    statusCode: 400,
    retriable: false,
    meaning: 'The payload is not valid UTF-8 JSON.',
    fix: 'Send a JSON object encoded as UTF-8; see docs/contract.md for an example.',
  },
  CONTRACT_SCHEMA_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The JSON does not match message contract v1: a field is missing, has the wrong type, or is not allowed.',
    fix: 'Read `details.issues`: each names the field path and what was expected.',
  },
  CONTRACT_TOO_MANY_READINGS: {
    statusCode: 400,
    retriable: false,
    meaning: 'A message carries more readings than the contract allows (1,000).',
    fix: 'Split the readings over several messages.',
  },
  CONTRACT_UNIT_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The unit is not valid for the quantity and kind of the reading (e.g. `kWh` for outdoor temperature, `kW` for an interval reading).',
    fix: 'Use one of the units listed for that quantity and kind in docs/contract.md.',
  },
  CONTRACT_TIMESTAMP_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A timestamp is not ISO 8601 with an offset nor epoch milliseconds, is before 2000-01-01, or is further in the future than the ingest allows.',
    fix: 'Send `2026-11-30T08:00:00+08:00` or epoch milliseconds (not seconds); check the device clock.',
  },
  CONFIG_INVALID: {
    statusCode: 500,
    retriable: false,
    meaning: 'The configuration (environment variables or flags) failed validation at start.',
    fix: 'Fix every key listed in the message; the README lists every key with its default.',
  },
} as const satisfies ErrorCatalogue;
