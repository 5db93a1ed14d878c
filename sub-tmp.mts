import { readFileSync } from 'node:fs';
const [f, pat] = process.argv.slice(2);
const re = new RegExp(pat!);
let total = 0; const self = new Map<string, number>(); let inc = 0;
for (const line of readFileSync(f!, 'utf8').trim().split('\n')) {
  const i = line.lastIndexOf(' '); const us = Number(line.slice(i + 1)); const frames = line.slice(0, i).split(';'); total += us;
  const k = frames.findIndex((fr) => re.test(fr)); if (k < 0) continue; inc += us;
  const leaf = frames.at(-1)!; self.set(leaf, (self.get(leaf) ?? 0) + us);
}
console.log('inclusive', (100 * inc / total).toFixed(1));
for (const [l, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((100 * us / total).toFixed(2), l);
