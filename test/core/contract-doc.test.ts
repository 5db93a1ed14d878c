/**
 * docs/contract.md against the code of contract v1: every quantity, unit, kind, limit, field and
 * CONTRACT_* code is documented as the code defines it, and every example payload in the doc
 * passes (or, for the rejected ones, fails with the code shown) `parseReadingsMessage`.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  allowedUnits,
  CANONICAL_UNIT,
  CONTRACT_LIMITS,
  CORE_ERRORS,
  ID_PATTERN,
  KINDS,
  parseReadingsMessage,
  QUANTITIES,
  readingSchema,
  readingsMessageSchema,
  readingsTopic,
  statusMessageSchema,
  statusTopic,
  UNIT_NAMES,
  UNITS,
} from '@wattproof/core';
import { GATEWAY_ERRORS } from '@wattproof/gateway';
import { INGEST_ERRORS } from '@wattproof/ingest';

const DOC_PATH = fileURLToPath(new URL('../../docs/contract.md', import.meta.url));
const doc = readFileSync(DOC_PATH, 'utf8');

/** After every timestamp of the examples; the ingest's default future skew. */
const NOW = Date.parse('2026-12-01T00:00:00Z');
const PARSE = { nowMs: NOW, maxFutureMs: 900_000 };

const CONTRACT_CODES = Object.keys(CORE_ERRORS).filter((c) => c.startsWith('CONTRACT_'));

/** The text of the section whose heading starts with `title` (up to the next heading of any level). */
function section(title: string): string {
  const lines = doc.split('\n');
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && l.replace(/^#+ /, '').startsWith(title));
  if (start < 0) throw new Error(`docs/contract.md has no section "${title}"`);
  const end = lines.findIndex((l, i) => i > start && /^#{2,4} /.test(l));
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** Every table in `text`, as its lines. */
function tables(text: string): string[] {
  const out: string[] = [];
  let current: string[] = [];
  for (const line of [...text.split('\n'), '']) {
    if (line.startsWith('|')) current.push(line);
    else if (current.length) {
      out.push(current.join('\n'));
      current = [];
    }
  }
  return out;
}

/** Rows of the first table in `text`, as trimmed cells (header and separator excluded). */
function tableRows(text: string): { header: string[]; rows: string[][] } {
  const lines = text.split('\n').filter((l) => l.startsWith('|'));
  const cells = (l: string) => l.slice(1, l.endsWith('|') ? -1 : undefined).split(/(?<!\\)\|/).map((c) => c.trim());
  const [head, , ...rest] = lines;
  if (!head) throw new Error('no table');
  return { header: cells(head), rows: rest.map(cells) };
}

/** The values written in backticks in a cell. */
function ticked(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Row whose first cell is `name` in backticks. */
function rowOf(rows: string[][], name: string): string[] | undefined {
  return rows.find((r) => r[0] === `\`${name}\``);
}

/** Fenced code blocks with their info string. */
function fences(): Array<{ info: string; body: string }> {
  return [...doc.matchAll(/^```([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({ info: m[1]!.trim(), body: m[2]! }));
}

describe('docs/contract.md vocabulary', () => {
  it('lists for each quantity exactly the units each kind accepts', () => {
    const { header, rows } = tableRows(section('3.2'));
    expect(header).toEqual(['quantity', ...KINDS]);
    expect(rows.map((r) => ticked(r[0] ?? '')[0])).toEqual([...QUANTITIES]);
    for (const q of QUANTITIES) {
      const row = rowOf(rows, q)!;
      KINDS.forEach((kind, i) => {
        const cell = row[i + 1] ?? '';
        const documented = cell === '—' ? [] : ticked(cell);
        expect(documented, `${q} / ${kind}`).toEqual(allowedUnits(q, kind));
      });
    }
  });

  it('lists every unit with its dimension, canonical unit and conversion', () => {
    const { header, rows } = tableRows(section('3.3'));
    expect(header).toEqual(['unit', 'dimension', 'canonical unit', 'factor', 'offset']);
    expect(rows.map((r) => ticked(r[0] ?? '')[0])).toEqual(UNIT_NAMES);
    const num = (s: string) => {
      const m = /^([−-]?[\d.]+)(?:\/([\d.]+))?/.exec(s.trim());
      if (!m) return 0;
      return (Number(m[1]!.replace('−', '-')) / (m[2] ? Number(m[2]) : 1));
    };
    for (const u of UNIT_NAMES) {
      const [, dimension, canonical, factor, offset] = rowOf(rows, u)!;
      const spec: { dimension: keyof typeof CANONICAL_UNIT; factor: number; offset?: number } = UNITS[u];
      expect(dimension, u).toBe(spec.dimension);
      expect(canonical, u).toBe(`\`${CANONICAL_UNIT[spec.dimension]}\``);
      expect(num(factor ?? ''), u).toBeCloseTo(spec.factor, 12);
      expect(num(offset ?? ''), u).toBeCloseTo(spec.offset ?? 0, 12);
    }
  });

  it('describes every kind', () => {
    const { rows } = tableRows(section('3.1'));
    expect(rows.map((r) => ticked(r[0] ?? '')[0])).toEqual([...KINDS]);
  });

  it('documents every field of the readings, reading and status schemas, and no other', () => {
    const fieldsOf = (title: string, nth = 0) => {
      const table = tables(section(title))[nth];
      if (!table) throw new Error(`no table ${nth} in section ${title}`);
      return tableRows(table).rows.map((r) => ticked(r[0] ?? '')[0]);
    };
    expect(fieldsOf('3. The readings message', 0)).toEqual(Object.keys(readingsMessageSchema.shape));
    expect(fieldsOf('3. The readings message', 1)).toEqual(Object.keys(readingSchema.shape));
    expect(fieldsOf('4. The status message')).toEqual(Object.keys(statusMessageSchema.shape));
  });

  it('states every limit with its value', () => {
    const { rows } = tableRows(section('3.5'));
    expect(rows.map((r) => ticked(r[0] ?? '')[0]).sort()).toEqual(Object.keys(CONTRACT_LIMITS).sort());
    for (const [key, value] of Object.entries(CONTRACT_LIMITS)) expect(Number(rowOf(rows, key)![1]), key).toBe(value);
  });

  it('lists every CONTRACT_* code, and only codes that exist', () => {
    const { rows } = tableRows(section('6. Rejections'));
    const listed = rows.map((r) => ticked(r[0] ?? '')[0]!);
    for (const code of CONTRACT_CODES) expect(listed, code).toContain(code);
    const known = new Set([...Object.keys(CORE_ERRORS), ...Object.keys(GATEWAY_ERRORS), ...Object.keys(INGEST_ERRORS)]);
    for (const code of listed) expect(known.has(code), `${code} is in no catalogue`).toBe(true);
    const mentioned = new Set([...doc.matchAll(/\b(CONTRACT_[A-Z_]+)\b/g)].map((m) => m[1]!));
    expect([...mentioned].sort()).toEqual([...CONTRACT_CODES].sort());
  });

  it('names the topics, the id pattern and QoS 1 as the code does', () => {
    const placeholder = { site: '<site>', building: '<building>', meter: '<meter>' };
    expect(doc).toContain(`\`${readingsTopic(placeholder)}\``);
    expect(doc).toContain(`\`${statusTopic(placeholder)}\``);
    expect(doc).toContain(`\`${ID_PATTERN.source.replace(/^\^|\$$/g, '')}\``);
    expect(doc).toContain('QoS 1');
  });
});

describe('docs/contract.md examples', () => {
  const blocks = fences();
  const examples = blocks.filter((b) => /^json\s+example$/.test(b.info));
  const rejected = blocks.filter((b) => /^json\s+rejected\s/.test(b.info));

  it('has at least three complete examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
  });

  it.each(examples.map((b, i) => [i + 1, b.body] as const))('example %i passes parseReadingsMessage', (_i, body) => {
    const r = parseReadingsMessage(body, PARSE);
    expect(r.ok ? 'ok' : `${r.error.code}: ${r.error.reason}`).toBe('ok');
  });

  it('the examples cover every kind', () => {
    const kinds = new Set(examples.flatMap((b) => (JSON.parse(b.body) as { readings: Array<{ kind: string }> }).readings.map((r) => r.kind)));
    expect([...kinds].sort()).toEqual([...KINDS].sort());
  });

  it('the gas example derives the intervals the text states', () => {
    const gas = examples.map((b) => parseReadingsMessage(b.body, PARSE)).find((r) => r.ok && r.value.readings.every((x) => x.quantity === 'gas'));
    expect(gas?.ok).toBe(true);
    if (!gas?.ok) return;
    const [a, b, c] = gas.value.readings;
    expect(b!.value - a!.value).toBeCloseTo(119.25, 9);
    expect(c!.value + c!.rollover! - b!.value).toBeCloseTo(114.25, 9);
    expect(doc).toContain('119.25 m3 and\n114.25 m3');
  });

  it('has rejected examples', () => {
    expect(rejected.length).toBeGreaterThanOrEqual(1);
  });

  it.each(rejected.map((b) => [b.info.split(/\s+/)[2]!, b.body] as const))('a rejected example fails with %s', (code, body) => {
    expect(CONTRACT_CODES).toContain(code);
    const r = parseReadingsMessage(body, PARSE);
    expect(r.ok ? 'ok' : r.error.code).toBe(code);
  });
});
