/**
 * Student's t quantiles for confidence intervals and the ASHRAE G14 fractional savings
 * uncertainty (DOMAIN.md §2.3).
 *
 * Why a library: the t quantile is the inverse of the regularised incomplete beta function, and
 * the closed-form approximations one could write by hand drift by several per cent at the small
 * degrees of freedom billing models have (10–12 periods). @stdlib's implementation is pure
 * JavaScript, Apache-2.0, tested against reference tables, and has no transitive weight.
 */
import quantile from '@stdlib/stats-base-dists-t-quantile';

/**
 * Quantile of Student's t distribution: the t with P(T ≤ t) = p.
 *
 * @param p probability in [0, 1].
 * @param degreesOfFreedom ν > 0 (may be fractional, e.g. the effective n' of G14).
 * @returns t; NaN when p ∉ [0, 1] or ν ≤ 0.
 * @example tQuantile(0.975, 10) // ≈ 2.228
 */
export function tQuantile(p: number, degreesOfFreedom: number): number {
  return quantile(p, degreesOfFreedom);
}

/**
 * Two-sided critical value: the t with P(|T| ≤ t) = confidence.
 *
 * @param confidence e.g. 0.68 (ASHRAE G14 acceptance) or 0.90 (California NMEC practice).
 * @param degreesOfFreedom ν > 0.
 * @returns t ≥ 0; NaN when confidence ∉ [0, 1] or ν ≤ 0.
 * @example twoSidedT(0.9, 30) // ≈ 1.697
 */
export function twoSidedT(confidence: number, degreesOfFreedom: number): number {
  return quantile(1 - (1 - confidence) / 2, degreesOfFreedom);
}
