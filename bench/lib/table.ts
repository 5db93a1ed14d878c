/** Plain-text tables for the benchmarks' stdout (what `npm run bench -- <name>` prints). */

export type Align = 'left' | 'right';

export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned; the default is left. */
  readonly align?: Align;
}

/**
 * A Markdown table whose cells are padded to one width per column, so the same text reads in a
 * terminal and pastes into docs/PERFORMANCE.md.
 */
export function formatTable(columns: readonly (string | Column)[], rows: readonly (readonly string[])[]): string {
  const cols = columns.map((c) => (typeof c === 'string' ? { header: c, align: 'left' as const } : { header: c.header, align: c.align ?? 'left' }));
  const widths = cols.map((c, i) => Math.max(c.header.length, 3, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cols.map((c, i) => (c.align === 'right' ? (cells[i] ?? '').padStart(widths[i]!) : (cells[i] ?? '').padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${cols.map((c, i) => (c.align === 'right' ? `${'-'.repeat(widths[i]! - 1)}:` : '-'.repeat(widths[i]!))).join(' | ')} |`;
  return [line(cols.map((c) => c.header)), rule, ...rows.map(line)].join('\n') + '\n';
}

/** `key   value` lines with the keys padded to one width (default: the longest key + 2). */
export function formatKeyValues(rows: readonly (readonly [string, string])[], width = Math.max(0, ...rows.map(([k]) => k.length)) + 2): string {
  return rows.map(([k, v]) => `${k.padEnd(width)}${v}\n`).join('');
}
