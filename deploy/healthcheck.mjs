#!/usr/bin/env node
// Container healthcheck for the Wattproof services: plain Node (built-in fetch), no tsx, no curl,
// so a probe every few seconds costs a few milliseconds and nothing beyond the base image.
//
//   node deploy/healthcheck.mjs [URL] [--fresh-s S]
//
// Exit 0 when GET URL answers 2xx within the timeout, 1 otherwise. URL defaults to
// $WATTPROOF_HEALTH_URL, else http://127.0.0.1:$API_PORT/health (API_PORT defaults to 8080).
// It sends no credentials: point it at an open route (/health, /ready; docs/access.md), a
// guarded one answers 401 and counts as unhealthy.
//
// With --fresh-s S the answer must also show a reading at most S seconds old, in one of two shapes:
// - the ingest's /health (`{"components":{"ingest":{"newestStoredReadingTsMs":...}}}`): the newest
//   reading in a store write the ingest confirmed. This is how the simulator, which has no HTTP
//   port of its own, shows that what it publishes is stored (docker-compose.yml);
// - a readings list (`{"readings":[{"ts":...}]}`, as the API's /api/v1/latest returns).
import { parseArgs } from 'node:util';

const TIMEOUT_MS = Number(process.env.WATTPROOF_HEALTH_TIMEOUT_MS ?? 4000);

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'fresh-s': { type: 'string' } } });
const url = positionals[0] ?? process.env.WATTPROOF_HEALTH_URL ?? `http://127.0.0.1:${process.env.API_PORT || '8080'}/health`;
const freshS = values['fresh-s'] === undefined ? undefined : Number(values['fresh-s']);

function fail(message) {
  process.stderr.write(`unhealthy: ${message}\n`);
  process.exit(1);
}

/** The newest reading timestamp (epoch ms) the body shows, or undefined when it shows none. */
function newestTs(body) {
  const ingest = body?.components?.ingest;
  if (ingest && typeof ingest === 'object' && 'newestStoredReadingTsMs' in ingest) {
    return typeof ingest.newestStoredReadingTsMs === 'number' ? ingest.newestStoredReadingTsMs : undefined;
  }
  if (Array.isArray(body?.readings)) {
    let newest;
    for (const r of body.readings) if (typeof r?.ts === 'number' && (newest === undefined || r.ts > newest)) newest = r.ts;
    return newest;
  }
  fail(`GET ${url}: neither a readings list nor an ingest health answer (components.ingest.newestStoredReadingTsMs)`);
}

if (freshS !== undefined && !(freshS > 0)) fail(`--fresh-s must be a positive number of seconds, got ${values['fresh-s']}`);

let res;
try {
  res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
} catch (err) {
  fail(`GET ${url}: ${err?.cause?.code ?? err?.name ?? 'error'}`);
}
const text = await res.text();
if (!res.ok) fail(`GET ${url}: HTTP ${res.status} ${text.slice(0, 300)}`);
if (freshS !== undefined) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`GET ${url}: not JSON`);
  }
  const newest = newestTs(body);
  if (newest === undefined) fail(`GET ${url}: no readings yet`);
  const ageS = (Date.now() - newest) / 1000;
  if (ageS > freshS) fail(`GET ${url}: newest reading is ${Math.round(ageS)} s old (more than ${freshS} s)`);
}
process.stdout.write(`healthy: ${url}\n`);
