/**
 * Typical weather years for normalized savings (DOMAIN.md §2): the bundled Chongqing TMYx
 * (core/data/weather, Climate.OneBuilding.Org TMYx; NOAA ISD; Copernicus ERA5), or any CSV of
 * hour start (ISO 8601 with offset) and temperature.
 */
import { readFileSync } from 'node:fs';
import { sha256 } from './lineage.js';
import type { TemperatureReading } from './prep/temperature.js';
import type { TemperatureUnit } from './types.js';

export interface TypicalYear {
  readonly id: string;
  readonly readings: TemperatureReading[];
  /** sha256 of the source file. */
  readonly digest: string;
}

const CHONGQING = new URL('../../core/data/weather/chongqing_tmyx_2009_2023.csv', import.meta.url);

/** The Chongqing typical year (8,760 hours, local year 2001), in °C or °F. */
export function chongqingTypicalYear(unit: TemperatureUnit = 'C'): TypicalYear {
  const bytes = readFileSync(CHONGQING);
  const lines = bytes.toString('utf8').trim().split(/\r?\n/);
  const header = lines[0]!.split(',');
  const ti = header.indexOf('timestamp_utc');
  const vi = header.indexOf('air_temperature_c');
  const readings = lines.slice(1).map((l) => {
    const c = l.split(',');
    const celsius = c[vi] === '' || c[vi] === undefined ? null : Number(c[vi]);
    return { time: Date.parse(c[ti]!), value: celsius === null ? null : unit === 'C' ? celsius : (celsius * 9) / 5 + 32 };
  });
  return { id: 'chongqing-tmyx-2009-2023', readings, digest: sha256(bytes) };
}
