/** Error catalogue of the finance calculations (covenants, insurance, PCAF); rendered in docs/errors.md. */
import { createErrorFactory, type ErrorCatalogue } from '@wattproof/core';

export const FINANCE_ERRORS = {
  FINANCE_INPUT_INVALID: {
    statusCode: 400,
    retriable: false,
    meaning: 'A finance calculation got an input it cannot use: a negative amount, a non-finite number, a date not in `YYYY-MM-DD`, or a probability outside 0..1. `details` names the field.',
    fix: 'Correct the field named in `details` (amounts in CNY, energies in kWh, dates as local `YYYY-MM-DD`).',
  },
  FINANCE_TEST_DATE_NOT_SCHEDULED: {
    statusCode: 422,
    retriable: false,
    meaning: 'A covenant was evaluated on a date that is not one of its test dates (the schedule from `firstTestDate` and `frequency`).',
    fix: 'Use a date from `testSchedule(spec, until)`; the schedule keeps the day of month of `firstTestDate`, clamped to the month end.',
  },
  FINANCE_POLICY_PERIOD_UNKNOWN: {
    statusCode: 404,
    retriable: false,
    meaning: 'The policy has no period with the requested id or index.',
    fix: 'Settle one of the periods listed in `policy.periods`.',
  },
  FINANCE_NO_WEATHER_YEARS: {
    statusCode: 422,
    retriable: false,
    meaning: 'Pricing a guarantee needs the counterfactual of at least one complete weather year, and none was given (or none was complete).',
    fix: 'Predict the fitted baseline on at least one full year of weather (`counterfactualByWeatherYear`), e.g. the Chongqing typical year or the years of the site\'s own weather history.',
  },
  FINANCE_EMISSION_FACTOR_MISSING: {
    statusCode: 422,
    retriable: false,
    meaning: 'No grid emission factor in the reference data applies to the region, basis and year asked for, so building emissions cannot be computed (no default is invented).',
    fix: 'Add the official, effective-dated factor to `analytics/reference/emission-factors.json` (new entry, new id), or ask for a region or year that has one.',
  },
  FINANCE_LOAN_DATA_MISSING: {
    statusCode: 422,
    retriable: false,
    meaning: 'A loan in the PCAF calculation has no outstanding balance on or before the reporting date, or one of its buildings has no profile.',
    fix: 'Pass a `LoanBalance` for every loan (the latest on or before the year end is used) and a `BuildingProfile` for every building the loan finances.',
  },
  FINANCE_LOAN_UNKNOWN: {
    statusCode: 404,
    retriable: false,
    meaning: 'The finance registry has no loan with this id (as of the time asked for).',
    fix: 'List the loans with `GET /api/v1/finance/loans` or `wattproof finance list`; load them with `wattproof finance load`. With an as-of time, the loan must have been recorded by then.',
  },
  FINANCE_POLICY_UNKNOWN: {
    statusCode: 404,
    retriable: false,
    meaning: 'The finance registry has no insurance policy with this id (as of the time asked for).',
    fix: 'List the policies with `GET /api/v1/finance/policies` or `wattproof finance list`; ids are case-sensitive.',
  },
  FINANCE_PARTY_UNKNOWN: {
    statusCode: 404,
    retriable: false,
    meaning: 'The finance registry has no party with this id, or the party lacks the role the request needs (a bank for a lender portfolio, an insurer for an insurer portfolio).',
    fix: 'Check the id and `roles` of the party with `GET /api/v1/finance/parties`.',
  },
  FINANCE_RESULT_UNKNOWN: {
    statusCode: 404,
    retriable: false,
    meaning: 'No stored finance result (covenant test, settlement) has this id.',
    fix: 'Use an id from `GET /api/v1/finance/loans/{id}/covenant-tests` or `.../settlements`.',
  },
  FINANCE_EVIDENCE_MISSING: {
    statusCode: 422,
    retriable: false,
    meaning: 'A settlement or a pricing needs an M&V result of a meter and none was recorded by the as-of time (or none covers the policy period).',
    fix: 'Run the M&V analysis of the meter (`POST /api/v1/mv/analyses`, or settle with `refresh: true` when an M&V definition of the meter is stored), then retry.',
  },
  FINANCE_PERIOD_OPEN: {
    statusCode: 422,
    retriable: true,
    meaning: 'The policy period asked for has not ended on the as-of date, so it cannot be settled yet.',
    fix: 'Settle after the period end (`to` is exclusive), or settle an earlier period.',
  },
  FINANCE_REFRESH_UNAVAILABLE: {
    statusCode: 422,
    retriable: false,
    meaning: 'A refresh (re-running M&V for the test window or policy period) was asked for a past as-of time, or the service runs without M&V jobs. New evidence can only be recorded now, never back-dated.',
    fix: 'Drop `asOf`/`asOfMs` to refresh now, or drop `refresh` to re-run the test on what was recorded by then.',
  },
} as const satisfies ErrorCatalogue;

export type FinanceErrorCode = keyof typeof FINANCE_ERRORS;

/** Makes a `WattproofError` of the finance catalogue. */
export const financeError = createErrorFactory(FINANCE_ERRORS);
