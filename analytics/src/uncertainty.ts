/**
 * Savings uncertainty after ASHRAE Guideline 14 (DOMAIN.md §2.3): the fractional savings
 * uncertainty with the lag-1 autocorrelation correction, the minimum detectable savings and the
 * Guideline 14 acceptance test against versioned thresholds.
 *
 *   U = t · k · CV(RMSE) · sqrt((n/n') · (1 + 2/n') · (1/m)) / F,   n' = n (1 − ρ)/(1 + ρ)
 *
 * with t the two-sided Student t at the confidence and n − p degrees of freedom, k = 1.26 for
 * hourly data and the reporting-months polynomials for daily and billing data, m the reporting
 * points and F the savings fraction. The absolute uncertainty U · S does not depend on F, so it is
 * reported even when the savings are near zero (where the fraction is not meaningful).
 */
import { twoSidedT } from './stats/t-quantile.js';
import type { FitStats } from './types.js';
import type { G14Reference } from './reference.js';

export type Granularity = 'hourly' | 'daily' | 'billing';

/** Confidence levels every result reports. */
export const CONFIDENCE_LEVELS = [0.68, 0.9, 0.95] as const;

/** k of DOMAIN.md §2.3 for `months` reporting months. */
export function uncertaintyFactor(granularity: Granularity, months: number): number {
  const M = months;
  switch (granularity) {
    case 'hourly':
      return 1.26;
    case 'daily':
      return -0.00024 * M * M + 0.03535 * M + 1.00286;
    case 'billing':
      return -0.00022 * M * M + 0.03306 * M + 0.94054;
  }
}

/** n' = n (1 − ρ)/(1 + ρ); a negative ρ would make n' > n, which we do not credit (n' ≤ n). */
export function effectiveSampleSize(n: number, rho: number): number {
  if (!Number.isFinite(rho) || rho <= 0) return n;
  if (rho >= 1) return 1;
  return Math.max(1, (n * (1 - rho)) / (1 + rho));
}

export interface SavingsUncertaintyInput {
  readonly fit: Pick<FitStats, 'n' | 'p' | 'cvrmse' | 'autocorrelation'>;
  readonly granularity: Granularity;
  /** Reporting points with observed data. */
  readonly reportingPoints: number;
  /** Reporting months (for k). */
  readonly reportingMonths: number;
  /** Σ counterfactual over the reporting points. */
  readonly counterfactual: number;
  /** Σ (counterfactual − observed). */
  readonly avoided: number;
}

export interface UncertaintyAtConfidence {
  readonly confidence: number;
  /** ± absolute uncertainty of the avoided energy, same unit. */
  readonly absolute: number;
  /** Fractional savings uncertainty U (absolute / avoided); null when the avoided energy is 0. */
  readonly fsu: number | null;
  readonly t: number;
}

export interface SavingsUncertainty {
  readonly k: number;
  readonly effectiveN: number;
  readonly levels: UncertaintyAtConfidence[];
  /** Smallest savings fraction with U = 50 % at each confidence (minimum detectable savings). */
  readonly minimumDetectable: Array<{ confidence: number; fraction: number; absolute: number }>;
}

export function savingsUncertainty(input: SavingsUncertaintyInput, confidences: readonly number[] = CONFIDENCE_LEVELS): SavingsUncertainty {
  const { n, p, cvrmse, autocorrelation } = input.fit;
  const m = Math.max(1, input.reportingPoints);
  const k = uncertaintyFactor(input.granularity, input.reportingMonths);
  const nEff = effectiveSampleSize(n, autocorrelation);
  const spread = cvrmse * Math.sqrt((n / nEff) * (1 + 2 / nEff) * (1 / m));
  const df = Math.max(1, n - p);
  const levels = confidences.map((confidence) => {
    const t = twoSidedT(confidence, df);
    // U·S = t·k·CV·sqrt(...)·E_counterfactual, since F = S / E_counterfactual.
    const absolute = Math.abs(t * k * spread * input.counterfactual);
    return { confidence, absolute, fsu: input.avoided === 0 ? null : absolute / Math.abs(input.avoided), t };
  });
  const minimumDetectable = levels.map((l) => {
    const fraction = input.counterfactual === 0 ? Number.POSITIVE_INFINITY : l.absolute / Math.abs(input.counterfactual) / 0.5;
    return { confidence: l.confidence, fraction, absolute: fraction * Math.abs(input.counterfactual) };
  });
  return { k, effectiveN: nEff, levels, minimumDetectable };
}

export interface G14Assessment {
  readonly passed: boolean;
  readonly checks: Array<{ name: 'cvrmse' | 'nmbe' | 'fsu'; value: number | null; limit: number; passed: boolean }>;
  readonly reference: { id: string; version: string };
}

/** The Guideline 14 acceptance test: CV(RMSE) and NMBE of the baseline fit, and (when savings are known) U below the limit at the reference confidence. */
export function assessG14(fit: Pick<FitStats, 'cvrmse' | 'nmbe'>, granularity: Granularity, reference: G14Reference, uncertainty?: SavingsUncertainty): G14Assessment {
  const limits = reference.thresholds[granularity];
  const checks: G14Assessment['checks'] = [
    { name: 'cvrmse', value: fit.cvrmse, limit: limits.cvrmseMax, passed: fit.cvrmse <= limits.cvrmseMax },
    { name: 'nmbe', value: fit.nmbe, limit: limits.nmbeMaxAbs, passed: Math.abs(fit.nmbe) <= limits.nmbeMaxAbs },
  ];
  if (uncertainty) {
    const at = uncertainty.levels.find((l) => Math.abs(l.confidence - reference.savingsUncertainty.confidence) < 1e-9);
    const fsu = at?.fsu ?? null;
    checks.push({ name: 'fsu', value: fsu, limit: reference.savingsUncertainty.fsuMax, passed: fsu !== null && fsu < reference.savingsUncertainty.fsuMax });
  }
  return { passed: checks.every((c) => c.passed), checks, reference: { id: reference.id, version: reference.version } };
}
