#!/usr/bin/env node
// Container healthcheck for the Wattproof services: plain Node (built-in fetch), no tsx, no curl,
// so a probe every few seconds costs a few milliseconds and nothing beyond the base image.
//
//   node deploy/healthcheck.mjs [URL] [--fresh-s S]
//
// Exit 0 when GET URL answers 2xx within the timeout, 1 otherwise. URL defaults to
// $WATTPROOF_HEALTH_URL, else http://127.0.0.1:$API_PORT/health (API_PORT defaults to 8080).
// With --fresh-s S the answer must also be a readings list (`{"readings":[{"ts":...}]}`, as
// /api/v1/latest returns) whose newest `ts` is at most S seconds old: how the simulator, which
// has no HTTP port of its own, shows that what it publishes arrives.
import { parseArgs } from 'node:util';

const TIMEOUT_MS = Number(process.env.WATTPROOF_HEALTH_TIMEOUT_MS ?? 4000);

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'fresh-s': { type: 'string' } } });
const url = positionals[0] ?? process.env.WATTPROOF_HEALTH_URL ?? `http://127.0.0.1:${process.env.API_PORT || '8080'}/health`;
const freshS = values['fresh-s'] === undefined ? undefined : Number(values['fresh-s']);

function fail(message) {
  process.stderr.write(`unhealthy: ${message}\n`);
  process.exit(1);
}

if (freshS !== undefined && !(freshS > 0)) fail(`--fresh-s must be a positive number of seconds, got ${values['fresh-s']}`);

let res;
try {
  res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), headers: { accept: 'application/json' } });
} catch (err) {
  fail(`GET ${url}: ${err?.cause?.code ?? err?.name ?? 'error'}`);
}
const body = await res.text();
if (!res.ok) fail(`GET ${url}: HTTP ${res.status} ${body.slice(0, 300)}`);
if (freshS !== undefined) {
  let newest = -Infinity;
  try {
    for (const r of JSON.parse(body).readings ?? []) if (typeof r.ts === 'number' && r.ts > newest) newest = r.ts;
  } catch {
    fail(`GET ${url}: not JSON`);
  }
  if (newest === -Infinity) fail(`GET ${url}: no readings yet`);
  const ageS = (Date.now() - newest) / 1000;
  if (ageS > freshS) fail(`GET ${url}: newest reading is ${Math.round(ageS)} s old (more than ${freshS} s)`);
}
process.stdout.write(`healthy: ${url}\n`);
