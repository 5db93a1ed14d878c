/**
 * docs/errors.md is generated from the error catalogues: it must be up to date, every catalogue
 * must be in it, no code may be in two catalogues, and every code the sources throw must be in one.
 */
import { ALERT_ERRORS, FINANCE_ERRORS, MV_ERRORS } from '@wattproof/analytics';
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CORE_ERRORS } from '@wattproof/core';
import { API_ERRORS, AUTH_ERRORS, CONSOLE_ERRORS, PACK_ERRORS, REPORT_ERRORS, SECURITY_ERRORS } from '@wattproof/dashboards';
import { GATEWAY_ERRORS } from '@wattproof/gateway';
import { REGISTRY_ERRORS } from '@wattproof/gateway/registry';
import { INGEST_ERRORS } from '@wattproof/ingest';
import { STORE_ERRORS } from '@wattproof/ingest/stores';
import { SIMULATOR_ERRORS } from '@wattproof/simulators';
import { ERROR_CATALOGUES, ERRORS_MD_PATH, errorsMarkdown } from '../../bin/commands/docs.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Every .ts file under `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

describe('docs/errors.md', () => {
  it('is up to date with the catalogues', () => {
    let current = '';
    try {
      current = readFileSync(ERRORS_MD_PATH, 'utf8');
    } catch {
      current = '(missing)';
    }
    const generated = errorsMarkdown();
    if (current !== generated) {
      const a = current.split('\n');
      const b = generated.split('\n');
      const line = a.findIndex((l, i) => l !== b[i]);
      const at = line < 0 ? b.length : line;
      expect.fail(`docs/errors.md is out of date: run \`npm run docs\` (first difference at line ${at + 1}:\n  file:      ${a[at] ?? '(end)'}\n  generated: ${b[at] ?? '(end)'})`);
    }
    expect(current).toBe(generated);
  });

  it('has one table row per code with status, retriable, meaning and fix', () => {
    const md = errorsMarkdown();
    for (const { catalogue } of ERROR_CATALOGUES) {
      for (const [code, spec] of Object.entries(catalogue)) {
        const row = md.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
        expect(row, code).toBeDefined();
        expect(row!.startsWith(`| \`${code}\` | ${spec.statusCode} | ${spec.retriable ? 'yes' : 'no'} | `), code).toBe(true);
        expect(spec.meaning.length, `${code} meaning`).toBeGreaterThan(10);
        expect(spec.fix.length, `${code} fix`).toBeGreaterThan(10);
      }
    }
    expect(md).toContain('| Code | HTTP status | Retriable | Meaning | How to fix |');
  });

  it('escapes a | in a meaning so the table keeps its columns', () => {
    const md = errorsMarkdown([{ title: 'T', source: 's.ts', catalogue: { X_PIPE: { statusCode: 400, retriable: false, meaning: 'a | b', fix: 'c\nd' } } }]);
    expect(md).toContain('| `X_PIPE` | 400 | no | a \\| b | c d |');
  });
});

describe('error catalogues', () => {
  it('documents every catalogue of every workspace', () => {
    const expected = [CORE_ERRORS, GATEWAY_ERRORS, REGISTRY_ERRORS, INGEST_ERRORS, STORE_ERRORS, API_ERRORS, AUTH_ERRORS, SECURITY_ERRORS, CONSOLE_ERRORS, MV_ERRORS, FINANCE_ERRORS, ALERT_ERRORS, SIMULATOR_ERRORS, REPORT_ERRORS, PACK_ERRORS];
    expect(ERROR_CATALOGUES.map((c) => c.catalogue)).toEqual(expected);
    for (const c of expected) expect(ERROR_CATALOGUES.some((d) => d.catalogue === c)).toBe(true);
    for (const { source } of ERROR_CATALOGUES) expect(() => readFileSync(join(ROOT, source)), source).not.toThrow();
  });

  it('has no code in two catalogues', () => {
    const owners = new Map<string, string[]>();
    for (const { title, catalogue } of ERROR_CATALOGUES) {
      for (const code of Object.keys(catalogue)) owners.set(code, [...(owners.get(code) ?? []), title]);
    }
    const shared = [...owners].filter(([, titles]) => titles.length > 1).map(([code, titles]) => `${code}: ${titles.join(', ')}`);
    expect(shared).toEqual([]);
  });

  it('catalogues the device provisioning codes', () => {
    expect(GATEWAY_ERRORS.DEVICE_ID_INVALID).toMatchObject({ statusCode: 400, retriable: false });
    expect(GATEWAY_ERRORS.DEVICE_EXISTS).toMatchObject({ statusCode: 409, retriable: false });
  });

  it('catalogues every code the sources throw or send', () => {
    const known = new Set(ERROR_CATALOGUES.flatMap((c) => Object.keys(c.catalogue)));
    const thrown = new Map<string, string>();
    const pattern = /(?:new WattproofError|\b[a-z]\w*Error|\bmake)\(\s*'([A-Z][A-Z0-9_]+)'|\bcode: '([A-Z][A-Z0-9_]+)'/g;
    const dirs = [...['core', 'gateway', 'ingest', 'analytics', 'dashboards', 'simulators'].map((ws) => join(ROOT, ws, 'src')), join(ROOT, 'bin')];
    for (const dir of dirs) {
      for (const file of sources(dir)) {
        for (const m of readFileSync(file, 'utf8').matchAll(pattern)) {
          const code = (m[1] ?? m[2])!;
          if (!code.startsWith('ERR_')) thrown.set(code, file.slice(ROOT.length)); // ERR_* are Node.js's own codes
        }
      }
    }
    expect(thrown.size).toBeGreaterThan(20);
    const uncatalogued = [...thrown].filter(([code]) => !known.has(code)).map(([code, file]) => `${code} (${file})`);
    expect(uncatalogued).toEqual([]);
  });
});
