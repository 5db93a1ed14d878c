/** Writing a signed pack and its export to a directory: pack.json, pack.html, pack.pdf, series/*.csv, series/*.parquet. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalJson } from '@wattproof/analytics';
import type { PdfRenderer } from '../report/pdf.js';
import type { ReportLang } from '../report/messages.js';
import { signPack, type AssembledPack } from './build.js';
import { writeCsvExport, writeParquetExport } from './export.js';
import { renderPackHtml } from './html.js';
import type { PackSigner } from './signing.js';
import type { Pack } from './types.js';

export const PACK_FILE_FORMATS = ['json', 'html', 'pdf', 'csv', 'parquet'] as const;
export type PackFileFormat = (typeof PACK_FILE_FORMATS)[number];

/** The pack as a file: sorted keys, two-space indentation (the signature covers the canonical form, not these bytes). */
export function packJson(pack: Pack): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(pack)), null, 2)}\n`;
}

/** Signs and writes the formats asked for; returns the files written (relative to `dir`). */
export async function writePackFiles(
  dir: string,
  assembled: AssembledPack,
  signer: PackSigner,
  options: { formats: readonly PackFileFormat[]; lang?: ReportLang; pdf?: PdfRenderer },
): Promise<{ pack: Pack; files: string[] }> {
  const pack = signPack(assembled.body, signer);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const want = new Set(options.formats);
  if (want.has('json')) {
    await writeFile(join(dir, 'pack.json'), packJson(pack));
    files.push('pack.json');
  }
  if (want.has('html') || want.has('pdf')) {
    const html = renderPackHtml(pack, options.lang);
    if (want.has('html')) {
      await writeFile(join(dir, 'pack.html'), html);
      files.push('pack.html');
    }
    if (want.has('pdf')) {
      if (!options.pdf) throw new Error('a PDF renderer is needed for format pdf');
      await writeFile(join(dir, 'pack.pdf'), await options.pdf.render(html));
      files.push('pack.pdf');
    }
  }
  if (want.has('csv') || want.has('parquet')) files.push(...(await writeCsvExport(dir, assembled)).filter(() => want.has('csv')));
  if (want.has('parquet')) files.push(...(await writeParquetExport(dir, assembled)));
  return { pack, files };
}
