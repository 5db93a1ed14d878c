/**
 * Writes the generated Grafana dashboards and provisioning files under dashboards/grafana/
 * (`npm run grafana`), and removes generated files that are no longer produced.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GRAFANA_OUTPUT_DIR, grafanaFiles } from '../src/grafana/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else out.push(p);
  }
  return out;
}

const files = grafanaFiles();
const wanted = new Set(files.map((f) => join(root, f.path)));
let written = 0;
for (const f of files) {
  const path = join(root, f.path);
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === f.content) continue;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, f.content);
  written++;
  console.log(`wrote ${f.path}`);
}
for (const path of await listFiles(join(root, GRAFANA_OUTPUT_DIR))) {
  if (wanted.has(path) || !/\.(json|ya?ml)$/.test(path)) continue;
  await rm(path);
  console.log(`removed ${relative(root, path)}`);
}
console.log(`${files.length} Grafana files, ${written} changed.`);
