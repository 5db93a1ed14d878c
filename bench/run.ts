/**
 * `npm run bench -- <name> [options]`: runs one benchmark and prints its table.
 * Benchmarks: analytics (model fits per meter-year), simulate (backfill through a real gateway and ingest),
 * console (the web console's requests with a year of hourly data).
 */
const [name = 'analytics', ...rest] = process.argv.slice(2);
const benches: Record<string, () => Promise<{ main(argv: string[]): Promise<void> }>> = {
  analytics: () => import('./analytics.js'),
  simulate: () => import('./simulate.js'),
  console: () => import('./console.js'),
};
const load = benches[name];
if (!load) {
  process.stderr.write(`unknown benchmark "${name}"; one of: ${Object.keys(benches).join(', ')}\n`);
  process.exit(2);
}
await (await load()).main(rest);
