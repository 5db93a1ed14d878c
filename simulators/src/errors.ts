/**
 * The simulators' error catalogue (rendered in docs/errors.md): one table for the building
 * model, the weather sources, portfolio files and simulation runs. Each module defines its own
 * part next to the code that throws it; this file only merges them.
 */
import type { ErrorCatalogue } from '@wattproof/core';
import { BUILDING_MODEL_ERRORS } from './building.js';
import { PORTFOLIO_ERRORS } from './portfolio.js';
import { SIMULATION_ERRORS } from './runner.js';
import { WEATHER_ERRORS } from './weather.js';

export const SIMULATOR_ERRORS = {
  ...BUILDING_MODEL_ERRORS,
  ...WEATHER_ERRORS,
  ...PORTFOLIO_ERRORS,
  ...SIMULATION_ERRORS,
} as const satisfies ErrorCatalogue;
