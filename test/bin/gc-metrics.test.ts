import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

/**
 * In a fresh Node process with `--expose-gc`: five full GCs in one turn of the event loop, which
 * Node reports to a PerformanceObserver as one batch, then the registry's text. `stock` uses
 * prom-client's defaults alone; otherwise the registry of `createMetricsRegistry`.
 */
async function gcCounts(stock: boolean): Promise<{ major: number; text: string }> {
  const script = `
    const { Registry, collectDefaultMetrics } = await import('prom-client');
    const { createMetricsRegistry } = await import(${JSON.stringify(`${ROOT}bin/runtime.ts`)});
    let registry;
    if (${stock}) { registry = new Registry(); collectDefaultMetrics({ register: registry, prefix: 'wattproof_process_' }); }
    else registry = createMetricsRegistry();
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 5; i++) globalThis.gc();
    await new Promise((r) => setTimeout(r, 200));
    process.stdout.write(await registry.metrics());
    process.exit(0);
  `;
  const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
  const m = /^wattproof_process_nodejs_gc_duration_seconds_count\{kind="major"\} (\d+)$/m.exec(stdout);
  return { major: m ? Number(m[1]) : 0, text: stdout };
}

describe('the GC duration histogram', () => {
  it('counts every collection of a batch, where prom-client counts the first', async () => {
    const ours = await gcCounts(false);
    expect(ours.major).toBeGreaterThanOrEqual(5);
    // One metric of that name, with the finer buckets (a 2 ms scavenge has its own bucket).
    expect(ours.text.match(/^# TYPE wattproof_process_nodejs_gc_duration_seconds histogram$/gm)).toHaveLength(1);
    expect(ours.text).toMatch(/^wattproof_process_nodejs_gc_duration_seconds_bucket\{le="0\.002",kind="major"\} \d+$/m);
    // The rest of the defaults are still there.
    expect(ours.text).toContain('wattproof_process_nodejs_eventloop_lag_seconds');
    expect(ours.text).toContain('wattproof_process_process_cpu_seconds_total');

    const stock = await gcCounts(true);
    expect(stock.major).toBeGreaterThanOrEqual(1);
    expect(stock.major).toBeLessThan(ours.major);
  });
});
