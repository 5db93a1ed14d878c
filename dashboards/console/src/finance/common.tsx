/** Pieces the lender and insurer pages share: status badges, money and KPI formats, pack downloads, action messages. */
import { useState } from 'preact/hooks';
import type { I18n, MessageKey } from '../i18n.js';
import { useI18n } from '../i18n.js';
import { authFetch, downloadResponse, type CovenantKpi, type CovenantStatus, type Finding } from './api.js';

type Tone = 'ok' | 'warn' | 'bad' | 'none';

const STATUS_TONE: Record<string, Tone> = {
  pass: 'ok',
  at_risk: 'warn',
  in_grace: 'warn',
  fail: 'bad',
  breach: 'bad',
  not_tested: 'none',
  settled: 'ok',
  due: 'warn',
  open: 'none',
  future: 'none',
};
/** A shape per tone, so the status never rests on colour alone. */
const TONE_ICON: Record<Tone, string> = { ok: '✓', warn: '!', bad: '✕', none: '○' };

/** A status as a badge: icon and text (the colour only repeats them). */
export function StatusBadge(props: { status: CovenantStatus | string; prefix: 'covenant.status' | 'period.state' }) {
  const i18n = useI18n();
  const tone = STATUS_TONE[props.status] ?? 'none';
  return (
    <span class={`badge status ${tone}`} data-status={props.status}>
      <span aria-hidden="true">{TONE_ICON[tone]} </span>
      {i18n.label(props.prefix, props.status)}
    </span>
  );
}

export const cny = (i18n: I18n, v: number | null | undefined, digits = 0): string => (v === null || v === undefined ? i18n.t('none') : `¥${i18n.num(v, digits)}`);

/** Millions of CNY for large amounts ("¥162.0 M" / "1.62 亿"). */
export function cnyLarge(i18n: I18n, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return i18n.t('none');
  return i18n.t('money.millions', { v: i18n.num(v / 1e6, 1) });
}

export const bp = (i18n: I18n, v: number): string => i18n.t('unit.bp', { v: `${v > 0 ? '+' : v < 0 ? '−' : '±'}${i18n.num(Math.abs(v), 0)}` });

const FRACTION_KPIS: readonly CovenantKpi[] = ['savings_fraction', 'data_coverage_fraction'];
export const isFraction = (kpi: CovenantKpi): boolean => FRACTION_KPIS.includes(kpi);

/** A KPI value in its unit: percent for fractions, the label name for label ranks. */
export function kpiValue(i18n: I18n, kpi: CovenantKpi, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return i18n.t('none');
  if (isFraction(kpi)) return i18n.pct(v, 1);
  if (kpi === 'label_maintained') return i18n.label('label.rank', String(v));
  return `${i18n.num(v, 1)} ${i18n.t(kpi === 'eui_kwh_per_m2' ? 'unit.euI' : 'unit.kgco2ePerM2a')}`;
}

export const operatorText = (op: string): string => ({ '>=': '≥', '<=': '≤', '>': '>', '<': '<' })[op] ?? op;

export function Findings(props: { title: string; findings: readonly Finding[]; tone: 'warn' | 'bad' }) {
  if (props.findings.length === 0) return null;
  return (
    <div class={`findings ${props.tone}-border`}>
      <strong>{props.title}</strong>
      <ul>
        {props.findings.map((f) => (
          <li>
            <code>{f.code}</code> {f.message}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** A button row's outcome, announced politely (or assertively on failure). */
export interface ActionMessage {
  readonly tone: 'ok' | 'bad';
  readonly text: string;
}

export function ActionStatus(props: { message: ActionMessage | null }) {
  return (
    <p class={`action-status ${props.message?.tone ?? ''}`} role={props.message?.tone === 'bad' ? 'alert' : 'status'}>
      {props.message?.text ?? ''}
    </p>
  );
}

export function errorText(i18n: I18n, err: unknown): string {
  const e = err as { code?: string; message?: string };
  return i18n.t('action.failed', { code: e.code ?? 'ERROR', message: e.message ?? String(err) });
}

/** What a pack is about: a loan's covenant tests with test dates in (from, to], or one period of a policy. */
export type PackSubject = { readonly kind: 'loan'; readonly id: string } | { readonly kind: 'policy'; readonly id: string; readonly period: string };

/**
 * "Download signed pack" (JSON) and "Printable report" (HTML) of a loan or a policy period, as
 * the pack routes serve them (docs/packs.md), as of the instant the test or settlement was
 * recorded (a pack only holds records stored by its as-of time).
 */
export function PackButtons(props: { apiKey: string; subject: PackSubject; from: string; to: string; asOf?: string; available: boolean; context: string }) {
  const i18n = useI18n();
  const [busy, setBusy] = useState<'json' | 'html' | null>(null);
  const [message, setMessage] = useState<ActionMessage | null>(null);
  if (!props.available) return <p class="note">{i18n.t('pack.unavailable')}</p>;
  const get = async (format: 'json' | 'html') => {
    setBusy(format);
    setMessage(null);
    const s = props.subject;
    const qs = new URLSearchParams({ ...(s.kind === 'loan' ? { from: props.from, to: props.to } : { period: s.period }), format, lang: i18n.lang, ...(props.asOf ? { asOf: props.asOf } : {}) });
    const path = s.kind === 'loan' ? `/api/v1/packs/loans/${encodeURIComponent(s.id)}` : `/api/v1/packs/policies/${encodeURIComponent(s.id)}`;
    try {
      const res = await authFetch(props.apiKey, `${path}?${qs}`, { accept: format === 'json' ? 'application/json' : 'text/html' });
      const name = await downloadResponse(res, `wattproof-pack-${s.kind}-${s.id}-${props.from}-${props.to}.${format}`);
      setMessage({ tone: 'ok', text: i18n.t('pack.saved', { name }) });
    } catch (err) {
      setMessage({ tone: 'bad', text: errorText(i18n, err) });
    } finally {
      setBusy(null);
    }
  };
  return (
    <div class="pack-actions">
      <div class="button-row">
        <button type="button" class="button" disabled={busy !== null} onClick={() => get('json')} data-pack="json" aria-label={i18n.t('pack.jsonOf', { what: props.context })}>
          {busy === 'json' ? i18n.t('pack.signing') : i18n.t('pack.json')}
        </button>
        <button type="button" class="button secondary" disabled={busy !== null} onClick={() => get('html')} data-pack="html" aria-label={i18n.t('pack.htmlOf', { what: props.context })}>
          {busy === 'html' ? i18n.t('pack.signing') : i18n.t('pack.html')}
        </button>
      </div>
      <p class="note">{i18n.t('pack.period', { from: props.from, to: props.to })}</p>
      <ActionStatus message={message} />
    </div>
  );
}

/** A definition list of figures ("KPI tiles"). */
export function Figures(props: { items: ReadonlyArray<{ label: string; value: string; note?: string; attr?: string }> }) {
  return (
    <dl class="kpis">
      {props.items.map((it) => (
        <div data-figure={it.attr}>
          <dt>{it.label}</dt>
          <dd>
            <strong>{it.value}</strong>
            {it.note && <span class="block note">{it.note}</span>}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export type { MessageKey };
