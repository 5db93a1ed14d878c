/** A chart with its title, a text description, a "Download CSV" of exactly its data and the data as a table. */
import type { ComponentChildren } from 'preact';
import { useId } from 'preact/hooks';
import { downloadCsv, type CsvTable } from '../csv.js';
import { useI18n } from '../i18n.js';

/** Rows of the data table shown in the page; the CSV always has all of them. */
export const TABLE_ROWS_SHOWN = 100;

export interface FigureProps {
  /** Stable name, also `data-chart` for tests and styling. */
  readonly name: string;
  readonly title: string;
  /** What the chart shows, for screen readers (its text alternative). */
  readonly description: string;
  readonly csv: CsvTable;
  /** Points drawn (`data-points`). */
  readonly points: number;
  /** The table alternative: header and formatted rows (the CSV rows when absent). */
  readonly table?: { readonly caption?: string; readonly header: readonly string[]; readonly rows: ReadonlyArray<readonly (string | number)[]> };
  readonly children: ComponentChildren;
}

export function Figure(props: FigureProps) {
  const i18n = useI18n();
  const id = useId();
  const table = props.table ?? { header: props.csv.header, rows: props.csv.rows.map((r) => r.map((c) => (c === null || c === undefined ? '' : (c as string | number)))) };
  const shown = table.rows.slice(0, TABLE_ROWS_SHOWN);
  return (
    <figure class="chart" data-chart={props.name} data-points={props.points} aria-labelledby={`${id}-t`}>
      <div class="chart-head">
        <h3 id={`${id}-t`}>{props.title}</h3>
        <button type="button" class="button secondary" onClick={() => downloadCsv(props.csv)} aria-label={i18n.t('csv.downloadOf', { title: props.title })} data-csv={props.name}>
          {i18n.t('csv.download')}
        </button>
      </div>
      <div class="chart-body" role="img" aria-label={props.description}>
        {props.children}
      </div>
      <details class="chart-table">
        <summary>{table.caption ?? i18n.t('table.show')}</summary>
        <div class="table-scroll" tabIndex={0} role="region" aria-label={table.caption ?? i18n.t('table.show')}>
          <table>
            <thead>
              <tr>
                {table.header.map((h) => (
                  <th scope="col">{h}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr>
                  {r.map((c, i) => (i === 0 ? <th scope="row">{c}</th> : <td>{c}</td>))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {table.rows.length > shown.length && <p class="note">{i18n.t('table.firstRows', { n: shown.length, total: table.rows.length })}</p>}
      </details>
    </figure>
  );
}
