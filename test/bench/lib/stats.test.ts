import { describe, expect, it } from 'vitest';
import { createSampleBuffer, median, percentile, summarize } from '../../../bench/lib/stats.js';

describe('bench stats', () => {
  it('takes percentiles by nearest rank', () => {
    const s = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentile(s, 50)).toBe(500);
    expect(percentile(s, 99)).toBe(990);
    expect(percentile(s, 99.9)).toBe(999);
    expect(percentile(s, 100)).toBe(1000);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile([7], 99.9)).toBe(7);
    expect(percentile([1, 2], 50)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
  });
  it('takes the median of odd and even counts and ignores non-finite values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([1, Number.NaN, 3])).toBe(2);
    expect(median([])).toBeNaN();
  });
  it('summarizes an unsorted buffer and grows it', () => {
    const b = createSampleBuffer(2);
    for (const v of [5, 1, 4, 2, 3]) b.push(v);
    expect(b.count()).toBe(5);
    expect(b.summarize()).toEqual({ count: 5, mean: 3, p50: 3, p99: 5, p999: 5, max: 5 });
    expect(summarize(new Float64Array([9, 1, 100]), 2).max).toBe(9);
  });
});
