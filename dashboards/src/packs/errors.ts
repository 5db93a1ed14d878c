/** Error catalogue of the verifiable report packs (rendered in docs/errors.md). */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const PACK_ERRORS = {
  PACK_REQUEST_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The pack request is malformed: the period is not two local dates `YYYY-MM-DD` with `from` before `to`, the as-of time is not an ISO 8601 instant, or a format is unknown.',
    fix: 'Pass `from=YYYY-MM-DD&to=YYYY-MM-DD` (end exclusive), an optional `asOf` such as `2026-02-01T00:00:00+08:00`, and formats among json, html, pdf, csv, parquet.',
  },
  PACK_SUBJECT_NOT_FOUND: {
    statusCode: 404,
    retriable: false,
    meaning: 'The registry has no building, loan or policy with that id (as of the pack time), so there is nothing to pack.',
    fix: 'Check the id (case-sensitive): GET /api/v1/sites/<site>/buildings lists buildings, `wattproof finance list` lists loans and policies.',
  },
  PACK_NO_RESULTS: {
    statusCode: 404,
    retriable: false,
    meaning: 'No stored M&V result (recorded on or before the as-of time) of the subject has a reporting period overlapping the pack period: a pack without figures proves nothing.',
    fix: 'Run the analysis first (`wattproof analyze` or POST /api/v1/mv/analyses), or pick a period that overlaps a result\'s reporting period.',
  },
  PACK_INPUTS_MISSING: {
    statusCode: 500,
    retriable: false,
    meaning: 'An M&V result names an `mv.inputs` record that is missing or whose digest does not match the result\'s lineage: the readings it used cannot be packed.',
    fix: 'The registry was altered or partly restored; restore the registry from backup, or re-run the analysis so a new result with its inputs is stored.',
  },
  PACK_SIGNING_KEY_MISSING: {
    statusCode: 503,
    retriable: false,
    meaning: 'A signed pack was asked for but no Ed25519 signing key is configured (`REPORT_SIGNING_KEY_FILE`).',
    fix: 'Create a key pair with `wattproof report keygen --out <dir>` and set `REPORT_SIGNING_KEY_FILE` to the private key file (or pass `--key FILE`); hand the `.pub` file to verifiers.',
  },
  PACK_SIGNING_KEY_INVALID: {
    statusCode: 500,
    retriable: false,
    meaning: 'The signing or public key file cannot be read or is not an Ed25519 key in PEM (PKCS#8 private key, SPKI public key).',
    fix: 'Point `REPORT_SIGNING_KEY_FILE` (or `--key`, `--public-key`) at a file written by `wattproof report keygen`; check its permissions.',
  },
  PACK_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'The file given to `wattproof verify` is not JSON or not a `wattproof.pack/1` document.',
    fix: 'Pass the `pack.json` written by `wattproof report pack` (or downloaded from GET /api/v1/packs/...), unmodified.',
  },
  PACK_PARQUET_UNAVAILABLE: {
    statusCode: 503,
    retriable: false,
    meaning: 'A Parquet export was asked for but DuckDB (`@duckdb/node-api`) could not be loaded or failed to write the file.',
    fix: 'Install the dependencies (`npm ci`), or leave parquet out of `--format`: the CSV export carries the same lines and is what `wattproof verify --data` reads.',
  },
} as const satisfies ErrorCatalogue;

export type PackErrorCode = keyof typeof PACK_ERRORS;

/** Creates a WattproofError of the pack catalogue. */
export const packError = createErrorFactory(PACK_ERRORS);
