/**
 * Shared types of the M&V analytics. Temperatures are in the unit the caller chose
 * (`temperatureUnit`), energies in the meter's unit (kWh for electricity, the gas unit for gas).
 */

/** A named warning or disqualification with a machine-readable code and the data that shows it (OpenDSM style). */
export interface Finding {
  /** Qualified name, e.g. `mv.sufficiency.too_many_days_missing`. */
  readonly code: string;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

export type TemperatureUnit = 'F' | 'C';
export type Fuel = 'electricity' | 'gas';

/** One local day of usage and temperature (CalTRACK 2.2: daily rollup). */
export interface DailyRow {
  /** Local date `YYYY-MM-DD` in the analysis time zone. */
  readonly date: string;
  /** Epoch ms of local midnight (start) and the next local midnight (end). */
  readonly start: number;
  readonly end: number;
  /** Length of the local day in hours: 24, or 23/25 on daylight-saving days. */
  readonly hours: number;
  /**
   * Usage of the day scaled to 24 hours and to full coverage (null when the day is not valid:
   * less than 50 % of its intervals present, or electricity all zero/missing).
   */
  readonly usage: number | null;
  /** Share of the day's intervals present (0..1). */
  readonly coverage: number;
  /** Mean of the day's hourly temperatures (null when the day's temperature is missing). */
  readonly temperature: number | null;
  /** Share of the day's hours with a temperature after ≤ 6 h interpolation (0..1); absent = unknown. */
  readonly temperatureCoverage?: number;
  /** True when one of the day's readings was negative (possible unreported PV, CalTRACK 2.3.5). */
  readonly negative?: boolean;
}

/** One billing period (CalTRACK 2.0 billing data). */
export interface BillingRow {
  readonly start: number;
  readonly end: number;
  /** Number of days in the period (may be fractional with DST; CalTRACK uses whole local days). */
  readonly days: number;
  /** Total usage of the period (null when missing). */
  readonly usage: number | null;
  /** Mean daily temperatures of the period's days, for degree days per day. */
  readonly dailyTemperatures: readonly (number | null)[];
  /** Share of the period's hours with a temperature (CalTRACK 2.2.3.2 needs ≥ 0.9); absent = unknown. */
  readonly temperatureCoverage?: number;
  /** True when the period's usage was negative (possible unreported PV, CalTRACK 2.3.5). */
  readonly negative?: boolean;
}

/** One hour of usage and temperature (CalTRACK hourly). */
export interface HourlyRow {
  /** Epoch ms of the hour start. */
  readonly start: number;
  /** Usage in the hour (null when missing; electricity zeros are missing). */
  readonly usage: number | null;
  /** Outdoor temperature in the hour (null when missing after ≤ 6 h interpolation). */
  readonly temperature: number | null;
  /** Local calendar month 1..12 and hour of week 0..167 (Monday 00:00 = 0) in the analysis time zone. */
  readonly month: number;
  readonly hourOfWeek: number;
}

/** Goodness of fit (ASHRAE Guideline 14 definitions, DOMAIN.md §2.3). */
export interface FitStats {
  /** Observations used. */
  readonly n: number;
  /** Parameters estimated. */
  readonly p: number;
  readonly r2: number;
  readonly r2Adjusted: number;
  /** sqrt(Σ(y−ŷ)²/(n−p)) / ȳ */
  readonly cvrmse: number;
  /** Σ(y−ŷ) / ((n−p)·ȳ) */
  readonly nmbe: number;
  /** Lag-1 autocorrelation of the residuals (in time order). */
  readonly autocorrelation: number;
  /** Mean of the observed values. */
  readonly mean: number;
  /** sqrt(Σ(y−ŷ)²/(n−p)) */
  readonly rmse: number;
}
