/**
 * Seeded randomness for the Monte Carlo pricing: the same seed gives the same draws on every run
 * and machine (32-bit integer arithmetic only; no `Math.random`).
 *
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, PractRand-tested), its
 * 128-bit state filled from the seed by splitmix32 and warmed up by 12 rounds, as its author
 * recommends for small seeds.
 */
import erfc from '@stdlib/math-base-special-erfc';
import erfcinv from '@stdlib/math-base-special-erfcinv';

/** A uniform generator on the open interval (0, 1). */
export type Uniform = () => number;

/** splitmix32 step: spreads a 32-bit seed over the generator state. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seeded uniform generator on (0, 1): never exactly 0 or 1, so it can feed an inverse CDF.
 * @param seed any integer (taken modulo 2³²).
 */
export function seededUniform(seed: number): Uniform {
  const init = { s: seed >>> 0 };
  let a = splitmix32(init);
  let b = splitmix32(init);
  let c = splitmix32(init);
  let d = splitmix32(init);
  const next = (): number => {
    let t = (a + b) | 0;
    d = (d + 1) | 0;
    t = (t + d) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 12; i++) next();
  // (k + 0.5) / 2³²: the midpoint of one of 2³² equal cells, so 0 and 1 never occur.
  return () => (next() + 0.5) / 4_294_967_296;
}

/** Standard normal CDF Φ(x) = erfc(−x/√2)/2. */
export function normalCdf(x: number): number {
  if (x === Number.POSITIVE_INFINITY) return 1;
  if (x === Number.NEGATIVE_INFINITY) return 0;
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Standard normal quantile Φ⁻¹(p) = −√2·erfcinv(2p), p in (0, 1). */
export function normalQuantile(p: number): number {
  return -Math.SQRT2 * erfcinv(2 * p);
}

/**
 * Quantile of a sample (sorted ascending), linear interpolation between order statistics
 * (Hyndman & Fan type 7, the default of R and NumPy): h = (n − 1)·p.
 */
export function sampleQuantile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}
