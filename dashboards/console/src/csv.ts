/** CSV downloads of exactly what a chart or table shows: header row, ISO 8601 times, units in the column names. */

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export interface CsvTable {
  readonly filename: string;
  readonly header: readonly string[];
  readonly rows: ReadonlyArray<readonly unknown[]>;
}

export function csvText(table: Pick<CsvTable, 'header' | 'rows'>): string {
  return `${[table.header.map(cell).join(','), ...table.rows.map((r) => r.map(cell).join(','))].join('\r\n')}\r\n`;
}

/** Saves the table as a file through a temporary link. */
export function downloadCsv(table: CsvTable): void {
  const url = URL.createObjectURL(new Blob([csvText(table)], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = table.filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const iso = (ms: number): string => new Date(ms).toISOString();
