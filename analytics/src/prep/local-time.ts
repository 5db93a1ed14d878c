/**
 * Local calendar arithmetic in an IANA time zone with `Intl.DateTimeFormat` only (no
 * dependency). CalTRACK 3.3.3.5: boundaries between days are at local midnight.
 */

/** Milliseconds in one hour. */
export const HOUR_MS = 3_600_000;
/** Milliseconds in one 24-hour day. */
export const DAY_MS = 86_400_000;

/** Local wall-clock fields of an instant. */
export interface LocalParts {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  /** 1..31 */
  readonly day: number;
  /** 0..23 */
  readonly hour: number;
  readonly minute: number;
  /** 0 = Monday … 6 = Sunday */
  readonly weekday: number;
}

/** Calendar helpers bound to one time zone (see {@link createZone}). */
export interface Zone {
  readonly timeZone: string;
  /** Local wall-clock fields of epoch ms `t`. */
  parts(t: number): LocalParts;
  /** Local date `YYYY-MM-DD` of epoch ms `t`. */
  date(t: number): string;
  /** UTC offset at `t` in ms (local − UTC). */
  offset(t: number): number;
  /** Epoch ms of the first instant of local date `YYYY-MM-DD` (local midnight, or the first existing instant when a transition skips midnight). */
  startOfDay(date: string): number;
}

const zoneCache = new Map<string, Zone>();

/**
 * Returns calendar helpers for an IANA time zone (cached).
 * @throws RangeError when the time zone is unknown.
 */
export function createZone(timeZone: string): Zone {
  const cached = zoneCache.get(timeZone);
  if (cached) return cached;
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });

  const fields = (t: number): [number, number, number, number, number, number] => {
    const out: [number, number, number, number, number, number] = [0, 0, 0, 0, 0, 0];
    for (const p of fmt.formatToParts(t)) {
      switch (p.type) {
        case 'year': out[0] = Number(p.value); break;
        case 'month': out[1] = Number(p.value); break;
        case 'day': out[2] = Number(p.value); break;
        case 'hour': out[3] = Number(p.value); break;
        case 'minute': out[4] = Number(p.value); break;
        case 'second': out[5] = Number(p.value); break;
        default: break;
      }
    }
    return out;
  };

  const rawOffset = (t: number): number => {
    const [y, mo, d, h, mi, s] = fields(t);
    const wall = Date.UTC(y, mo - 1, d, h, mi, s);
    return wall - (t - (((t % 1000) + 1000) % 1000));
  };

  // Offsets change at most once a day: when a UTC day starts and ends with the same offset it
  // holds all day, so two formatter calls per day replace one per instant.
  const dayOffsets = new Map<number, number>();
  const offset = (t: number): number => {
    const key = Math.floor(t / DAY_MS);
    let o = dayOffsets.get(key);
    if (o === undefined) {
      const a = rawOffset(key * DAY_MS);
      const b = rawOffset(key * DAY_MS + DAY_MS - 1000);
      o = a === b ? a : Number.NaN;
      dayOffsets.set(key, o);
    }
    return Number.isNaN(o) ? rawOffset(t) : o;
  };

  const parts = (t: number): LocalParts => {
    const local = new Date(t + offset(t));
    return {
      year: local.getUTCFullYear(),
      month: local.getUTCMonth() + 1,
      day: local.getUTCDate(),
      hour: local.getUTCHours(),
      minute: local.getUTCMinutes(),
      weekday: (local.getUTCDay() + 6) % 7,
    };
  };

  const date = (t: number): string => {
    const p = parts(t);
    return formatDate(p.year, p.month, p.day);
  };

  const startOfDay = (day: string): number => {
    const [y, mo, d] = parseDate(day);
    const wallMidnight = Date.UTC(y, mo - 1, d);
    // Two fixed-point steps settle the offset except inside a transition.
    let t = wallMidnight - offset(wallMidnight);
    t = wallMidnight - offset(t);
    if (date(t) === day && date(t - 1) !== day) return t;
    // A transition at midnight: scan minute steps from 3 h before for the first instant of `day`.
    let probe = t - 3 * HOUR_MS;
    while (date(probe) !== day) probe += 60_000;
    return probe;
  };

  const zone: Zone = { timeZone, parts, date, offset, startOfDay };
  zoneCache.set(timeZone, zone);
  return zone;
}

/** `YYYY-MM-DD` from calendar fields. */
export function formatDate(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/**
 * Parses `YYYY-MM-DD` into [year, month 1..12, day].
 * @throws RangeError on another format.
 */
export function parseDate(date: string): [number, number, number] {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** The calendar date after `date` (`YYYY-MM-DD`). */
export function nextDate(date: string): string {
  const [y, m, d] = parseDate(date);
  const t = new Date(Date.UTC(y, m - 1, d + 1));
  return formatDate(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

/** Whole calendar days from `a` to `b` (`YYYY-MM-DD`), b − a. */
export function daysBetween(a: string, b: string): number {
  const [ya, ma, da] = parseDate(a);
  const [yb, mb, db] = parseDate(b);
  return Math.round((Date.UTC(yb, mb - 1, db) - Date.UTC(ya, ma - 1, da)) / DAY_MS);
}
