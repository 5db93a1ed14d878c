import { describe, expect, it } from 'vitest';
import { firstReaching, judgeStep, pickIntervalS, promValue, summarizeRaw, summarizeSteps, targetRows, type E2eSummary, type StepResult } from '../../../bench/lib/ingest-steps.js';

const H = 3_600_000;

function step(p: Partial<StepResult> & Pick<StepResult, 'offeredPerS'>): StepResult {
  return {
    store: 'influxdb',
    readingsPerMessage: 1,
    rep: 1,
    status: 'ok',
    seconds: 10,
    sentMessages: p.offeredPerS * 10,
    drained: true,
    loss: 0,
    lagAfterEndS: 0.5,
    e2ePerS: p.offeredPerS * 0.97,
    ...p,
  };
}

describe('ingest benchmark helpers (bench/lib/ingest-steps.ts)', () => {
  it('pick the longest interval that keeps a device’s readings inside the span', () => {
    expect(pickIntervalS(100, 45 * H)).toBe(900);
    expect(pickIntervalS(1000, 45 * H)).toBe(60);
    expect(pickIntervalS(20_000, 45 * H)).toBe(5);
    expect(() => pickIntervalS(200_000, 45 * H)).toThrow(/do not fit/);
  });
  it('find the first poll that counted everything', () => {
    const polls = [
      { atMs: 1, value: 5 },
      { atMs: 2, value: 10 },
      { atMs: 3, value: 12 },
    ];
    expect(firstReaching(polls, 10)).toEqual({ atMs: 2, value: 10 });
    expect(firstReaching(polls, 13)).toBeUndefined();
  });
  it('read an un-labelled Prometheus counter', () => {
    const text = '# HELP x y\n# TYPE wattproof_ingest_readings_written_total counter\nwattproof_ingest_readings_written_total 12345\nwattproof_ingest_readings_written_total_other 1\n';
    expect(promValue(text, 'wattproof_ingest_readings_written_total')).toBe(12345);
    expect(promValue(text, 'missing')).toBeNaN();
  });
  it('judge a step: loss, push-back, lag and errors fail it', () => {
    expect(judgeStep(step({ offeredPerS: 1000 }))).toEqual([]);
    expect(judgeStep(step({ offeredPerS: 1000, loss: 0.001 }))[0]).toMatch(/loss/);
    expect(judgeStep(step({ offeredPerS: 1000, sentMessages: 9000, blockedMessages: 1000 }))[0]).toMatch(/gateway pushed back 10.0 %/);
    expect(judgeStep(step({ offeredPerS: 1000, sentMessages: 9500, laggedMessages: 500 }))).toEqual([]);
    expect(judgeStep(step({ offeredPerS: 1000, sentMessages: 8000, laggedMessages: 2000 }))[0]).toMatch(/generator 20.0 % behind/);
    expect(judgeStep(step({ offeredPerS: 1000, lagAfterEndS: 7 }))[0]).toMatch(/behind/);
    expect(judgeStep(step({ offeredPerS: 1000, drained: false }))).toContain('not drained');
    expect(judgeStep({ store: 'duckdb', readingsPerMessage: 10, rep: 1, offeredPerS: 1, status: 'error', error: 'boom' })).toEqual(['boom']);
    // 10 readings per message: 100 readings/s offered over 10 s is 100 messages.
    expect(judgeStep(step({ offeredPerS: 100, readingsPerMessage: 10, sentMessages: 99, blockedMessages: 1 }))).toEqual([]);
  });
  it('summarize a ladder: best rate, highest passing step before the first failure, latency at the latency rate; medians over reps', () => {
    const lat = (p99: number) => ({ count: 100, mean: 1, p50: p99 / 2, p99, p999: p99, max: p99 });
    const steps = [1, 2].flatMap((rep) => [
      { ...step({ offeredPerS: 5000, rep, e2ePerS: 4900 }), pass: true, latencyMs: lat(100) },
      { ...step({ offeredPerS: 10_000, rep, e2ePerS: 9800, ingestCpuUsPerReading: 10 * rep }), pass: true, latencyMs: lat(rep === 1 ? 300 : 500) },
      { ...step({ offeredPerS: 20_000, rep, e2ePerS: 15_000 + rep * 1000, ingestCpuUsPerReading: 20 * rep }), pass: false },
      { ...step({ offeredPerS: 40_000, rep, e2ePerS: 14_000 }), pass: rep === 2 },
    ]);
    const [s] = summarizeSteps(steps, 10_000);
    expect(s).toMatchObject({ store: 'influxdb', readingsPerMessage: 1, reps: 2, throughputPerS: 16_500, maxZeroLossPerS: 10_000, p99Ms: 400, latencyPass: true, anyLoss: false });
    expect(s!.ingestCpuUsPerReading).toBe(30);
  });
  it('compare against the targets of issue 8', () => {
    const e2e: E2eSummary[] = [
      { store: 'influxdb' as const, readingsPerMessage: 1, throughputPerS: 25_000, p99Ms: 900, latencyPass: true },
      { store: 'influxdb' as const, readingsPerMessage: 1000, throughputPerS: 50_000, p99Ms: 2500, latencyPass: false },
      { store: 'duckdb' as const, readingsPerMessage: 1000, throughputPerS: 20_000, p99Ms: 500, latencyPass: true },
    ].map((x) => ({ reps: 1, maxZeroLossPerS: 0, ingestCpuUsPerReading: 1, gatewayCpuUsPerMessage: 1, influxdCpuUsPerPoint: 1, ingestPeakRssMiB: 1, p50Ms: 1, anyLoss: false, ...x }));
    const [raw] = summarizeRaw([
      { batchPoints: 5000, inflight: 2, rep: 1, points: 1, pointsPerS: 100_000, influxdCpuUsPerPoint: 1, counted: 1, statuses: {} },
      { batchPoints: 5000, inflight: 2, rep: 2, points: 1, pointsPerS: 60_000, influxdCpuUsPerPoint: 1, counted: 1, statuses: {} },
    ]);
    expect(raw!.pointsPerS).toBe(80_000);
    const rows = targetRows(e2e, raw, 12.5, 10_000);
    const find = (re: RegExp) => rows.find((r) => re.test(r.measure));
    expect(find(/1000 readings\/msg end to end \/ raw/)).toMatchObject({ value: '63 %', met: true });
    expect(find(/influxdb: single-reading/)).toMatchObject({ met: true });
    expect(find(/influxdb: 1000 readings\/msg, p99/)).toMatchObject({ met: false });
    expect(find(/DuckDB \/ InfluxDB end to end, 1000/)).toMatchObject({ value: '40 %', met: false });
    expect(find(/aggregate/)).toMatchObject({ met: true });
  });
});
