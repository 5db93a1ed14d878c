import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { analyze, chongqingTypicalYear, MODEL_KINDS, sha256, type AnalysisResult, type ModelKind, type TypicalYear } from '@wattproof/analytics';
import type { Env } from '../runtime.js';

const HELP = `Usage: wattproof mv --usage <csv> --temperature <csv> --baseline <start>/<end>
                    --reporting <start>/<end> --model caltrack-daily|caltrack-billing|caltrack-hourly
                    [--fuel electricity|gas] [--temperature-unit F|C] [--timezone <IANA>]
                    [--typical-year chongqing|<csv>] [--override-reason TEXT --override-by NAME] [--json]

Offline measurement and verification for verifiers: fits the CalTRACK 2.0 baseline model on
the baseline period, predicts the reporting period and reports avoided energy with ASHRAE
Guideline 14 uncertainty, sufficiency findings and the lineage of every number.

  --usage CSV          (repeatable: files are joined) header row; column 1 the interval start (ISO 8601 with offset),
                       column 2 the energy in the interval (an interval ends where the next
                       begins). Billing: column 1 period start, column 2 period end, column 3
                       energy (or two columns: start and energy, each period ending at the next).
  --temperature CSV    (repeatable) header row; column 1 hour start (ISO 8601 with offset), column 2 the
                       outdoor temperature in --temperature-unit.
  --baseline, --reporting   local dates YYYY-MM-DD/YYYY-MM-DD in --timezone, end exclusive.
  --fuel               electricity (zeros are missing data; default) or gas (zeros are real).
  --temperature-unit   F (default) or C; balance points are reported in it.
  --timezone           IANA zone of the meter's local days (default Asia/Shanghai).
  --typical-year       normalized savings (daily model): baseline and reporting-period models
                       both predicted on a typical weather year — 'chongqing' (the bundled
                       TMYx) or a CSV like --temperature.
  --override-*         accept a disqualified baseline; recorded in the result.
  --json               one JSON object (format in docs/mv.md) instead of the report.
See docs/mv.md for the formats and every field of the output.
`;

interface Series {
  readonly rows: Array<{ start: number; end?: number; value: number | null }>;
  readonly digest: string;
}

function parseTime(text: string, file: string, line: number): number {
  const iso = text.trim().replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
  const ms = /(Z|[+-]\d{2}:?\d{2})$/.test(iso) ? Date.parse(iso) : Number.NaN;
  if (!Number.isFinite(ms)) throw usageError(`${file}:${line}: "${text}" is not an ISO 8601 time with an offset`);
  return ms;
}

function parseNumber(text: string | undefined, file: string, line: number): number | null {
  const t = (text ?? '').trim();
  if (t === '' || /^(nan|null|na)$/i.test(t)) return null;
  const v = Number(t);
  if (!Number.isFinite(v)) throw usageError(`${file}:${line}: "${t}" is not a number`);
  return v;
}

function usageError(message: string): Error {
  return Object.assign(new TypeError(message), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
}

export function readCsv(file: string, columns: 2 | 3 | 'auto'): Series {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const lines = bytes.toString('utf8').split(/\r?\n/);
  const rows: Series['rows'] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const cells = line.split(',');
    const three = columns === 3 || (columns === 'auto' && cells.length >= 3 && /\d{4}-\d{2}-\d{2}/.test(cells[1] ?? ''));
    if (three) rows.push({ start: parseTime(cells[0]!, file, i + 1), end: parseTime(cells[1]!, file, i + 1), value: parseNumber(cells[2], file, i + 1) });
    else rows.push({ start: parseTime(cells[0]!, file, i + 1), value: parseNumber(cells[1], file, i + 1) });
  }
  rows.sort((a, b) => a.start - b.start);
  return { rows, digest: sha256(bytes) };
}

/**
 * Intervals end where the next begins, unless the next row is more than 1.5 median steps away
 * (a gap in the data, e.g. between a baseline and a reporting export): then, and for the last
 * row, the interval takes the median step. Two-column billing: the last row (and a row before a
 * gap) only closes the previous period.
 */
export function toIntervals(series: Series, billing: boolean): Array<{ start: number; end: number; value: number | null }> {
  const r = series.rows;
  if (r.every((x) => x.end !== undefined)) return r.map((x) => ({ start: x.start, end: x.end!, value: x.value }));
  const steps = r.slice(1).map((x, i) => x.start - r[i]!.start).sort((a, b) => a - b);
  const median = steps[Math.floor(steps.length / 2)] ?? 3_600_000;
  const out: Array<{ start: number; end: number; value: number | null }> = [];
  r.forEach((x, i) => {
    const next = r[i + 1]?.start;
    const closes = next !== undefined && next - x.start <= 1.5 * median;
    if (closes) out.push({ start: x.start, end: next, value: x.value });
    else if (!billing) out.push({ start: x.start, end: x.start + median, value: x.value });
  });
  return out;
}

function parseRange(name: string, v: string | undefined): { start: string; end: string } {
  const m = /^(\d{4}-\d{2}-\d{2})\/(\d{4}-\d{2}-\d{2})$/.exec(v ?? '');
  if (!m) throw usageError(`--${name} must be YYYY-MM-DD/YYYY-MM-DD (end exclusive), got ${v ?? 'nothing'}`);
  return { start: m[1]!, end: m[2]! };
}

const fmt = (v: number | null | undefined, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? '—' : `${(v * 100).toFixed(1)} %`);

export function report(r: AnalysisResult): string {
  const m = r.model;
  const c = m.coefficients as { intercept?: number; heating?: number; cooling?: number };
  const lines = [
    `Wattproof M&V — ${m.kind} (${r.lineage.method.name} ${r.lineage.method.version})`,
    `Status: ${r.status.replace(/_/g, ' ')}${r.override ? ` (override by ${r.override.by}: ${r.override.reason})` : ''}`,
    '',
    'Baseline model',
    `  type ${m.type}; heating balance point ${m.heatingBalancePoint ?? '—'} °${m.temperatureUnit}; cooling balance point ${m.coolingBalancePoint ?? '—'} °${m.temperatureUnit}`,
    ...(c.intercept !== undefined ? [`  per day: intercept ${fmt(c.intercept, 4)}, heating ${fmt(c.heating ?? null, 4)}, cooling ${fmt(c.cooling ?? null, 4)}`] : []),
    `  fit: n ${m.fit.n}, R² ${fmt(m.fit.r2, 4)}, adj. R² ${fmt(m.fit.r2Adjusted, 4)}, CV(RMSE) ${pct(m.fit.cvrmse)}, NMBE ${pct(m.fit.nmbe)}, lag-1 autocorrelation ${fmt(m.fit.autocorrelation, 3)}`,
    `  ASHRAE Guideline 14: ${r.g14.passed ? 'met' : 'not met'} (${r.g14.checks.map((k) => `${k.name} ${k.value === null ? '—' : fmt(k.value, 4)} vs ${k.limit}`).join(', ')})`,
    '',
    'Savings over the reporting period (where observed data exist)',
    `  counterfactual ${fmt(r.savings.counterfactual)}  observed ${fmt(r.savings.observed)}  avoided ${fmt(r.savings.avoided)} (${pct(r.savings.fraction)})`,
    ...r.savings.uncertainty.map((u) => `  ±${fmt(u.absolute)} at ${Math.round(u.confidence * 100)} % confidence (fractional uncertainty ${pct(u.fsu)})`),
    `  minimum detectable savings at 90 %: ${pct(r.savings.minimumDetectable.find((x) => x.confidence === 0.9)?.fraction)}`,
    ...(r.savings.normalized ? [`  normalized on ${r.savings.normalized.typicalYear}: baseline ${fmt(r.savings.normalized.baseline)}, reporting ${fmt(r.savings.normalized.reporting)}, savings ${fmt(r.savings.normalized.savings)} (${pct(r.savings.normalized.fraction)})`] : []),
    ...(r.savings.adjusted.applied.length ? [`  with non-routine adjustments (${r.savings.adjusted.applied.join(', ')}): avoided ${fmt(r.savings.adjusted.avoided)}`] : []),
    '',
    '  month     counterfactual   observed    avoided   ±90 %',
    ...r.savings.monthly.map((p) => `  ${p.period}  ${fmt(p.counterfactual).padStart(14)} ${fmt(p.observed).padStart(10)} ${fmt(p.avoided).padStart(10)} ${fmt(p.uncertainty.levels.find((l) => l.confidence === 0.9)?.absolute).padStart(7)}`),
    '',
    `Disqualifications: ${r.disqualifications.length ? '' : 'none'}`,
    ...r.disqualifications.map((d) => `  ${d.code}: ${d.message}`),
    `Warnings: ${r.warnings.length ? '' : 'none'}`,
    ...r.warnings.map((w) => `  ${w.code}: ${w.message}`),
    '',
    `Lineage digest ${r.lineage.digest}`,
    ...Object.entries(r.lineage.inputs).map(([k, v]) => `  ${k} sha256 ${v}`),
  ];
  return `${lines.join('\n')}\n`;
}

export async function runMv(argv: string[], _env: Env): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      usage: { type: 'string', multiple: true },
      temperature: { type: 'string', multiple: true },
      baseline: { type: 'string' },
      reporting: { type: 'string' },
      model: { type: 'string' },
      fuel: { type: 'string', default: 'electricity' },
      'temperature-unit': { type: 'string', default: 'F' },
      timezone: { type: 'string', default: 'Asia/Shanghai' },
      'override-reason': { type: 'string' },
      'override-by': { type: 'string' },
      json: { type: 'boolean' },
      'typical-year': { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (!values.usage?.length || !values.temperature?.length) throw usageError('--usage and --temperature are required');
  if (!MODEL_KINDS.includes(values.model as ModelKind)) throw usageError(`--model must be one of ${MODEL_KINDS.join(', ')}`);
  if (values.fuel !== 'electricity' && values.fuel !== 'gas') throw usageError('--fuel must be electricity or gas');
  const unit = values['temperature-unit'];
  if (unit !== 'F' && unit !== 'C') throw usageError('--temperature-unit must be F or C');
  try {
    new Intl.DateTimeFormat('en', { timeZone: values.timezone });
  } catch {
    throw usageError(`--timezone: unknown time zone ${values.timezone}`);
  }
  if (Boolean(values['override-reason']) !== Boolean(values['override-by'])) throw usageError('--override-reason and --override-by go together');
  const model = values.model as ModelKind;
  const baseline = parseRange('baseline', values.baseline);
  const reporting = parseRange('reporting', values.reporting);
  // Several files of one kind are read as one series (e.g. a baseline and a reporting export).
  const usageFiles = values.usage.map((f) => readCsv(f, model === 'caltrack-billing' ? 'auto' : 2));
  const temperatureFiles = values.temperature.map((f) => readCsv(f, 2));
  const usage: Series = { rows: usageFiles.flatMap((u) => u.rows).sort((a, b) => a.start - b.start), digest: '' };
  const digests = Object.fromEntries([
    ...usageFiles.map((u, i) => [usageFiles.length > 1 ? `usage[${i}]` : 'usage', u.digest]),
    ...temperatureFiles.map((t, i) => [temperatureFiles.length > 1 ? `temperature[${i}]` : 'temperature', t.digest]),
  ]);
  let typicalYear: TypicalYear | undefined;
  if (values['typical-year'] === 'chongqing') typicalYear = chongqingTypicalYear(unit);
  else if (values['typical-year']) {
    const t = readCsv(values['typical-year'], 2);
    typicalYear = { id: values['typical-year'], readings: t.rows.map((r) => ({ time: r.start, value: r.value })), digest: t.digest };
  }
  const result = analyze({
    ...(typicalYear ? { typicalYear } : {}),
    usage: toIntervals(usage, model === 'caltrack-billing'),
    temperatures: temperatureFiles.flatMap((t) => t.rows).map((r) => ({ time: r.start, value: r.value })),
    baseline,
    reporting,
    model,
    fuel: values.fuel,
    temperatureUnit: unit,
    timeZone: values.timezone!,
    inputDigests: digests,
    ...(values['override-reason'] ? { override: { reason: values['override-reason'], by: values['override-by']! } } : {}),
  });
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : report(result));
  return 0;
}
