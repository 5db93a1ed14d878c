/**
 * The monthly report as one self-contained HTML document: inline CSS with print styles (A4,
 * `@page` margins with running header and footer and page numbers in Chromium's page-margin
 * boxes), charts as inline SVG, no script and no external resource, so it prints the same from
 * a browser as through the PDF renderer.
 */
import { dailyEnergyChart, euiChart, FONT_FAMILY, loadProfileChart, PALETTE, savingsChart } from './charts.js';
import { escapeHtml as h, formatDate, formatDateTime, formatFigure, formatMonth, formatNumber } from './format.js';
import { label, message, type MessageKey, type ReportLang } from './messages.js';
import type { ReportEnergyRow, ReportFigure, MonthlyReport, ReportSavingsEntry, ReportSavingsFigures } from './model.js';

const COVERAGE_FLAG = 90;

/** Renders the report model as a printable HTML document (UTF-8). */
export function renderMonthlyReportHtml(model: MonthlyReport): string {
  const { lang } = model;
  const t = (key: MessageKey, vars?: Record<string, string | number>) => h(message(lang, key, vars));
  const f = (x: ReportFigure | null | undefined, o?: Parameters<typeof formatFigure>[2]) => h(formatFigure(lang, x, o));
  const tz = model.period.timeZone;
  const buildingName = model.building.name ?? model.building.id;
  const monthText = formatMonth(lang, model.period.month);

  const css = stylesheet({ building: buildingName, month: monthText, footer: message(lang, 'footer', { building: buildingName, month: monthText }) });

  // Key figures.
  const main = model.energy.totalMain;
  const monthSavings = model.savings.filter((s) => s.fuel === 'electricity' && s.month);
  const savedKwh = monthSavings.length ? { value: monthSavings.reduce((a, s) => a + s.month!.avoided.value, 0), unit: 'kWh' } : null;
  const kpis = [
    tile(t('kpiEnergy'), f(main?.month), [
      main?.changeVsPrevious ? `${t('vsPrevious')} ${f(main.changeVsPrevious, { signed: true })}` : '',
      main?.changeVsLastYear ? `${t('vsLastYear')} ${f(main.changeVsLastYear, { signed: true })}` : '',
    ]),
    tile(t('kpiPeak'), f(model.peak?.demand), [model.peak ? t('peakAt', { time: formatDateTime(lang, model.peak.at, tz, true) }) : '']),
    tile(t('kpiEui'), f(model.eui.value, { digits: 1 }), [
      model.eui.quota ? `${t('quotaConstraint')} ${f(model.eui.quota.constraint, { digits: 0 })}` : model.eui.value ? t('noQuota', { type: model.building.type ?? '–' }) : '',
    ], model.eui.quota ? (model.eui.quota.meetsConstraint ? 'good' : 'bad') : undefined),
    tile(t('kpiSavings'), f(savedKwh), [monthSavings[0] ? statusText(lang, monthSavings[0].status) + (monthSavings[0].month!.band90 ? ` · ±${f(monthSavings[0].month!.band90)}` : '') : t('noResult')], monthSavings[0] ? statusClass(monthSavings[0].status) : undefined),
    tile(t('kpiCarbon'), f(model.carbon.emissionsMonth, { digits: 1 }), [model.carbon.factor ? `${f(model.carbon.factor.value, { digits: 4 })}` : t('noFactor')]),
    tile(t('kpiCoverage'), f(main?.coverage.month, { digits: 1 }), [`${t('deadLetters')}: ${formatNumber(lang, model.quality.deadLetters.count, 0)}`], main?.coverage.month && main.coverage.month.value < COVERAGE_FLAG ? 'bad' : undefined),
  ].join('');

  const summary = `
    <table class="facts">
      <tr><th>${t('site')}</th><td>${h(model.site.name ?? model.site.id)} <span class="muted">(${h(model.site.id)})</span></td><th>${t('buildingType')}</th><td>${h(label(lang, 'buildingType', model.building.type) || '–')}</td></tr>
      <tr><th>${t('building')}</th><td>${h(buildingName)} <span class="muted">(${h(model.building.id)})</span></td><th>${t('floorArea')}</th><td>${f(model.building.floorArea, { digits: 0 })}</td></tr>
      <tr><th>${t('period')}</th><td>${h(formatDate(lang, model.period.from, tz))} – ${h(formatDate(lang, Date.parse(model.period.to) - 1, tz))}</td><th>${t('timeZone')}</th><td>${h(tz)}</td></tr>
    </table>
    ${model.period.inProgress ? `<p class="note">${t('monthInProgress', { from: formatDate(lang, model.period.from, tz), to: formatDateTime(lang, model.period.until, tz) })}</p>` : ''}
    <table class="data meters">
      <thead><tr><th>${t('meterId')}</th><th>${t('meter')}</th><th>${t('quantity')}</th><th>${t('endUse')}</th><th>${t('parent')}</th><th>${t('role')}</th></tr></thead>
      <tbody>${model.building.meters
        .map((m) => `<tr><td class="mono">${h(m.meter)}</td><td>${h(m.name ?? '')}</td><td>${h(label(lang, 'quantity', m.quantity))}</td><td>${h(label(lang, 'endUse', m.endUse))}</td><td class="mono">${h(m.parent ?? '')}</td><td>${t(roleKey(m.role))}</td></tr>`)
        .join('')}</tbody>
    </table>`;

  const energyRow = (r: ReportEnergyRow, strong = false) => {
    const cov = (c: ReportFigure | null) => (c && c.value < COVERAGE_FLAG ? '<sup class="flag">†</sup>' : '');
    const name = r.meter === '*' ? t('totalMain') : `${h(r.name ?? r.meter)}<div class="sub">${h(r.meter)}${r.endUse ? ` · ${h(label(lang, 'endUse', r.endUse))}` : ` · ${h(label(lang, 'quantity', r.quantity))}`}</div>`;
    return `<tr class="${strong ? 'total' : r.role}"><td>${name}</td>
      <td class="num">${f(r.month)}${cov(r.coverage.month)}</td>
      <td class="num">${f(r.previousMonth)}${cov(r.coverage.previousMonth)}</td>
      <td class="num">${change(r.changeVsPrevious)}</td>
      <td class="num">${f(r.sameMonthLastYear)}${cov(r.coverage.sameMonthLastYear)}</td>
      <td class="num">${change(r.changeVsLastYear)}</td>
      <td class="num">${f(r.share, { digits: 1, fallback: '' })}</td></tr>`;
  };
  const change = (c: ReportFigure | null) => (c ? `<span class="${c.value > 0 ? 'up' : 'down'}">${f(c, { signed: true, digits: 1 })}</span>` : '–');
  const energy = model.energy.rows.length
    ? `<table class="data energy">
        <thead><tr><th>${t('meter')}</th><th class="num">${t('thisMonth')}</th><th class="num">${t('previousMonth')}</th><th class="num">${t('change')}</th><th class="num">${t('sameMonthLastYear')}</th><th class="num">${t('change')}</th><th class="num">${t('share')}</th></tr></thead>
        <tbody>${model.energy.rows.map((r) => energyRow(r)).join('')}
        ${model.energy.unattributed ? `<tr class="sub"><td><em>${t('unattributed')}</em></td><td class="num">${f(model.energy.unattributed)}</td><td></td><td></td><td></td><td></td><td class="num">${main?.month && main.month.value ? f({ value: (model.energy.unattributed.value / main.month.value) * 100, unit: '%' }, { digits: 1 }) : ''}</td></tr>` : ''}
        ${main ? energyRow(main, true) : ''}</tbody>
      </table>
      <p class="foot">${t('partialCoverage')}</p>`
    : `<p class="empty">${t('noData')}</p>`;

  const daily = dailyEnergyChart(model);
  const profile = loadProfileChart(model);
  const charts = `
    <figure><figcaption>${t('chartDaily')}</figcaption>${daily ?? `<p class="empty">${t('noData')}</p>`}</figure>
    <figure><figcaption>${t('chartProfile')}</figcaption>${profile ?? `<p class="empty">${t('noData')}</p>`}</figure>`;

  const peak = model.peak
    ? `<table class="facts">
        <tr><th>${t('kpiPeak')}</th><td><strong>${f(model.peak.demand)}</strong> ${t('peakAt', { time: formatDateTime(lang, model.peak.at, tz) })}</td></tr>
        <tr><th>${t('peakBasis')}</th><td>${model.peak.basis === 'interval' ? t('peakBasisInterval', { minutes: formatNumber(lang, model.peak.intervalMinutes ?? 0, 0) }) : t('peakBasisInstant')}</td></tr>
        <tr><th>${t('peakAverage')}</th><td>${f(model.peak.average)}</td></tr>
        <tr><th>${t('loadFactor')}</th><td>${f(model.peak.loadFactor, { digits: 1 })}</td></tr>
      </table>`
    : `<p class="empty">${t('noData')}</p>`;

  const e = model.eui;
  const euiChartSvg = euiChart(model);
  const eui = `
    ${euiChartSvg ? `<figure><figcaption>${t('chartEui')}</figcaption>${euiChartSvg}</figure>` : ''}
    ${!e.floorArea ? `<p class="note">${t('noFloorArea')}</p>` : ''}
    ${e.value
      ? `<table class="facts">
        <tr><th>${t('eui')}</th><td><strong>${f(e.value, { digits: 1 })}</strong></td><th>${t('euiWindow')}</th><td>${t('euiWindowValue', { from: formatDate(lang, e.window!.from, tz), to: formatDate(lang, e.window!.to, tz), days: formatNumber(lang, e.window!.days, 0), annualised: e.window!.annualised ? message(lang, 'annualised') : '' })}</td></tr>
        <tr><th>${t('kpiEnergy')}</th><td>${f(e.energy)}</td><th>${t('coverage')}</th><td>${f(e.coverage, { digits: 1 })}</td></tr>
        ${e.quota
          ? `<tr><th>${t('quotaConstraint')}</th><td>${f(e.quota.constraint, { digits: 0 })} · ${t('meetsConstraint')}: ${yesNo(lang, e.quota.meetsConstraint)}</td><th>${t('quotaGuide')}</th><td>${f(e.quota.guide, { digits: 0 })} · ${t('meetsGuide')}: ${yesNo(lang, e.quota.meetsGuide)}</td></tr>
             <tr><th>${t('quotaReference')}</th><td colspan="3" class="mono">${h(e.quota.reference.id)} v${h(e.quota.reference.version)} · ${h(e.quota.buildingType)}${e.quota.confirmed ? '' : ` · <span class="warn">${t('quotaUnconfirmed')}</span>`}</td></tr>`
          : `<tr><td colspan="4" class="note">${t('noQuota', { type: model.building.type ?? '–' })}</td></tr>`}
      </table>
      <p class="foot">${t('euiBasis')}</p>`
      : ''}`;

  const savings = model.savings.length ? model.savings.map((s, i) => savingsBlock(model, s, i)).join('') : `<p class="empty">${t('noResult')}</p>`;

  const c = model.carbon;
  const carbon = `
    <table class="facts">
      <tr><th>${t('emissionsMonth')}</th><td><strong>${f(c.emissionsMonth, { digits: 2 })}</strong></td><th>${t('avoidedMonth')}</th><td>${f(c.avoidedMonth, { digits: 2 })}</td></tr>
      <tr><th>${t('emissionsRolling')}</th><td>${f(c.emissionsRolling12, { digits: 1 })}</td><th>${t('avoidedCumulative')}</th><td>${f(c.avoidedCumulative, { digits: 1 })}</td></tr>
      <tr><th>${t('carbonIntensity')}</th><td>${f(c.intensity, { digits: 1 })}</td><th>${t('factor')}</th><td>${c.factor ? `${f(c.factor.value, { digits: 4 })} · ${c.factor.basis === 'location' ? t('factorBasis') : t('factorBasisMarket')}` : t('noFactor')}</td></tr>
      <tr><th>${t('factorTable')}</th><td colspan="3" class="mono small">${h(c.table.id)} v${h(c.table.version)}${c.factor ? ` · ${h(c.factor.id)} (${h(c.factor.source)})` : ''}</td></tr>
    </table>`;

  const q = model.quality;
  const quality = `
    <table class="data">
      <thead><tr><th>${t('meter')}</th><th>${t('quantity')}</th><th class="num">${t('readings')}</th><th class="num">${t('coverage')}</th><th class="num">${t('gaps')}</th><th class="num">${t('missingHours')}</th><th>${t('longestGap')}</th></tr></thead>
      <tbody>${q.meters
        .map(
          (m) => `<tr><td>${h(m.name ?? m.meter)}<div class="sub">${h(m.meter)}</div></td><td>${h(label(lang, 'quantity', m.quantity))}${m.kind === 'instant' ? ' <span class="muted">(instant)</span>' : ''}</td>
          <td class="num">${formatNumber(lang, m.readings, 0)}</td>
          <td class="num ${m.coverage && m.coverage.value < COVERAGE_FLAG ? 'bad' : ''}">${f(m.coverage, { digits: 1 })}</td>
          <td class="num">${m.coverage ? formatNumber(lang, m.gaps, 0) : '–'}</td>
          <td class="num">${f(m.missing, { digits: 1 })}</td>
          <td>${m.longestGap ? `${h(formatDateTime(lang, m.longestGap.from, tz, true))} · ${f(m.longestGap.duration, { digits: 1 })}` : '–'}</td></tr>`,
        )
        .join('')}</tbody>
    </table>
    <h3>${t('deadLetters')}: ${q.deadLetters.complete ? '' : `${t('deadLettersMore')} `}${formatNumber(lang, q.deadLetters.count, 0)}</h3>
    ${q.deadLetters.byCode.length ? `<table class="data compact"><thead><tr><th>${t('code')}</th><th class="num">${t('count')}</th></tr></thead><tbody>${q.deadLetters.byCode.map((d) => `<tr><td class="mono">${h(d.code)}</td><td class="num">${formatNumber(lang, d.count, 0)}</td></tr>`).join('')}</tbody></table>` : ''}
    <h3>${t('registerEvents')}: ${formatNumber(lang, q.registerEvents.length, 0)}</h3>
    ${q.registerEvents.length ? `<table class="data compact"><thead><tr><th>${t('time')}</th><th>${t('meter')}</th><th>${t('eventType')}</th><th class="num">${t('registerValues')}</th></tr></thead><tbody>${q.registerEvents
      .map((ev) => `<tr><td>${h(formatDateTime(lang, ev.at, tz))}</td><td class="mono">${h(ev.meter)}</td><td>${h(eventLabel(lang, ev.type))}${ev.note ? ` <span class="muted">${h(ev.note)}</span>` : ''}</td><td class="num">${formatNumber(lang, ev.previousValue)} → ${formatNumber(lang, ev.value)}</td></tr>`)
      .join('')}</tbody></table>` : ''}`;

  const a = model.alerts;
  const alerts = !a.connected
    ? `<p class="empty">${t('alertsNotConnected')}</p>`
    : !a.available
      ? `<p class="note">${t('alertsUnavailable')}</p>`
      : a.items.length === 0
        ? `<p class="empty">${t('noAlerts')}</p>`
        : `<table class="data"><thead><tr><th>${t('severity')}</th><th>${t('alertTitle')}</th><th>${t('rule')}</th><th>${t('since')}</th></tr></thead><tbody>${a.items
            .map((x) => `<tr><td><span class="badge ${h(x.severity)}">${h(label(lang, 'severity', x.severity))}</span></td><td>${h(lang === 'zh-CN' && x.titleZh ? x.titleZh : x.title)}</td><td class="mono">${h(x.rule)}</td><td>${Number.isNaN(Date.parse(x.since)) ? h(x.since) : h(formatDateTime(lang, x.since, tz))}</td></tr>`)
            .join('')}</tbody></table>`;

  const notes = `<ul class="notes">
      <li>${t('noteEnergy', { tz })}</li>
      <li>${t('noteSavings')}</li>
      <li>${t('noteReproduce')}</li>
      <li class="mono small">${h(model.reference.quotas.id)} v${h(model.reference.quotas.version)} sha256:${h(model.reference.quotas.sha256.slice(0, 16))}… · ${h(model.reference.factors.id)} v${h(model.reference.factors.version)} sha256:${h(model.reference.factors.sha256.slice(0, 16))}…</li>
    </ul>`;

  return `<!doctype html>
<html lang="${h(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Wattproof">
<title>${h(message(lang, 'title'))} · ${h(buildingName)} · ${h(monthText)}</title>
<style>${css}</style>
</head>
<body>
<header class="masthead">
  <div class="brand">WATTPROOF</div>
  <div class="titles">
    <h1>${t('title')}</h1>
    <div class="subtitle">${h(buildingName)} · ${h(model.site.name ?? model.site.id)}</div>
  </div>
  <div class="month"><div class="month-text">${h(monthText)}</div><div class="muted small">${t('generatedAt', { time: formatDateTime(lang, model.generatedAt, tz) })}</div></div>
</header>
<section class="kpis">${kpis}</section>
<section><h2>${t('sectionSummary')}</h2>${summary}</section>
<section><h2>${t('sectionEnergy')}</h2>${energy}</section>
<section class="break-before"><h2>${t('sectionProfile')}</h2>${charts}</section>
<section><h2>${t('sectionPeak')}</h2>${peak}</section>
<section class="break-before"><h2>${t('sectionEui')}</h2>${eui}</section>
<section><h2>${t('sectionSavings')}</h2>${savings}</section>
<section><h2>${t('sectionCarbon')}</h2>${carbon}</section>
<section class="break-before"><h2>${t('sectionQuality')}</h2>${quality}</section>
<section><h2>${t('sectionAlerts')}</h2>${alerts}</section>
<section><h2>${t('sectionNotes')}</h2>${notes}</section>
</body>
</html>
`;

  function savingsBlock(m: MonthlyReport, s: ReportSavingsEntry, index: number): string {
    const chart = savingsChart(m, index);
    const row = (key: MessageKey, x: ReportSavingsFigures | null, pick: (y: ReportSavingsFigures) => ReportFigure | null, o?: Parameters<typeof formatFigure>[2]) => `<td class="num">${x ? f(pick(x), o) : '–'}</td>`;
    const cols = (key: MessageKey, pick: (y: ReportSavingsFigures) => ReportFigure | null, o?: Parameters<typeof formatFigure>[2]) => `<tr><th>${t(key)}</th>${row(key, s.month, pick, o)}${row(key, s.cumulative, pick, o)}</tr>`;
    return `<div class="mv">
      <div class="mv-head"><span class="badge ${statusClass(s.status)}">${h(statusText(lang, s.status))}</span>
        <span class="mono">${h(s.meter)}</span> · ${t('model')}: <span class="mono">${h(s.model.kind)} / ${h(s.model.type)}</span> · ${t('method')}: ${h(s.method.name)} ${h(s.method.version)}
        · ${t('g14')}: ${s.g14Passed ? t('passed') : t('failed')}</div>
      <div class="muted small">${t('reportingPeriod')}: ${h(formatDate(lang, s.reporting.start, tz))} – ${h(formatDate(lang, s.reporting.end, tz))} · ${t('resultId')} ${h(s.resultId)} · ${t('ranAt')} ${h(formatDateTime(lang, s.ranAt, tz))}</div>
      ${s.month ? '' : `<p class="note">${t('outsideReporting')}</p>`}
      <table class="data compact mv-figures">
        <thead><tr><th></th><th class="num">${t('thisMonth')}</th><th class="num">${h(s.cumulative ? `${message(lang, 'cumulativeAvoided').split(/[,，]/)[0]} (${s.reporting.start.slice(0, 7)} – ${s.cumulative.period})` : message(lang, 'cumulativeAvoided'))}</th></tr></thead>
        <tbody>
          ${cols('monthAvoided', (y) => y.avoided)}
          ${cols('band90', (y) => y.band90)}
          ${cols('fraction', (y) => y.fraction, { digits: 1 })}
          ${cols('counterfactual', (y) => y.counterfactual)}
          ${cols('observed', (y) => y.observed)}
          ${cols('adjusted', (y) => y.adjustedAvoided)}
        </tbody>
      </table>
      ${chart ? `<figure><figcaption>${t('chartSavings')}</figcaption>${chart}</figure>` : ''}
      ${s.override ? `<p class="note">${t('override')}: ${h(s.override.reason)} — ${h(s.override.by)}</p>` : ''}
      ${findings(t('disqualifications'), s.disqualifications, 'bad')}
      ${findings(t('warnings'), s.warnings, 'warn')}
      <p class="lineage">${t('lineage')}: <span class="mono">${h(s.lineageDigest)}</span> · <span class="mono">${h(s.codeVersion)}</span></p>
    </div>`;
  }
}

function findings(title: string, list: ReadonlyArray<{ code: string; message: string }>, cls: string): string {
  if (!list.length) return '';
  return `<div class="findings ${cls}"><strong>${title}</strong><ul>${list.map((x) => `<li><span class="mono">${h(x.code)}</span> — ${h(x.message)}</li>`).join('')}</ul></div>`;
}

function tile(title: string, value: string, lines: string[], cls?: string): string {
  return `<div class="kpi ${cls ?? ''}"><div class="kpi-title">${title}</div><div class="kpi-value">${value}</div>${lines.filter(Boolean).map((l) => `<div class="kpi-line">${l}</div>`).join('')}</div>`;
}

function roleKey(role: string): MessageKey {
  return role === 'main' ? 'roleMain' : role === 'sub' ? 'roleSub' : role === 'generation' ? 'roleGeneration' : 'roleOther';
}

function statusText(lang: ReportLang, status: string): string {
  return message(lang, status === 'verified' ? 'statusVerified' : status === 'verified_with_override' ? 'statusVerifiedWithOverride' : 'statusNotVerified');
}

function statusClass(status: string): string {
  return status === 'verified' ? 'good' : status === 'verified_with_override' ? 'warn' : 'bad';
}

function yesNo(lang: ReportLang, v: boolean): string {
  return `<span class="${v ? 'good-text' : 'bad-text'}">${h(message(lang, v ? 'yes' : 'no'))}</span>`;
}

function eventLabel(lang: ReportLang, type: string): string {
  return type === 'rollover' || type === 'reset' || type === 'replacement' || type === 'out_of_order' ? message(lang, type) : type;
}

/** CSS string literal (for `content:` in page-margin boxes). */
function cssString(text: string): string {
  // Hex escapes keep quotes, backslashes and markup (`</style>`) from ending the string or the style element.
  return `"${text.replace(/[\n\r]/g, ' ').replace(/[\\"'<>&]/g, (c) => `\\${c.charCodeAt(0).toString(16)} `)}"`;
}

/** The report's print stylesheet (A4, running header and footer, tables, badges); also used by the report packs. */
export function stylesheet(page: { building: string; month: string; footer: string }): string {
  return `
@page {
  size: A4;
  margin: 20mm 16mm 18mm 16mm;
  @top-left { content: ${cssString(page.building)}; font: 8pt ${FONT_FAMILY}; color: ${PALETTE.muted}; }
  @top-right { content: ${cssString(page.month)}; font: 8pt ${FONT_FAMILY}; color: ${PALETTE.muted}; }
  @bottom-left { content: ${cssString(page.footer)}; font: 7.5pt ${FONT_FAMILY}; color: ${PALETTE.muted}; }
  @bottom-right { content: counter(page) " / " counter(pages); font: 8pt ${FONT_FAMILY}; color: ${PALETTE.muted}; }
}
@page :first { @top-left { content: none; } @top-right { content: none; } }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: ${FONT_FAMILY}; font-size: 9.5pt; line-height: 1.45; color: ${PALETTE.ink}; margin: 0; }
@media screen { body { max-width: 210mm; margin: 0 auto; padding: 12mm 16mm; background: #fff; } }
h1 { font-size: 17pt; margin: 0; font-weight: 700; letter-spacing: 0.01em; }
h2 { font-size: 12pt; margin: 14pt 0 6pt; padding-bottom: 3pt; border-bottom: 1.5pt solid ${PALETTE.main}; color: ${PALETTE.main}; break-after: avoid; }
h3 { font-size: 10pt; margin: 10pt 0 4pt; break-after: avoid; }
section { break-inside: auto; }
.break-before { break-before: page; }
.break-before > h2 { margin-top: 0; }
figure { margin: 6pt 0 10pt; break-inside: avoid; }
figcaption { font-size: 9pt; font-weight: 600; color: ${PALETTE.ink}; margin-bottom: 2pt; }
figure svg { display: block; width: 100%; height: auto; }
.masthead { display: flex; align-items: flex-end; gap: 12pt; padding-bottom: 8pt; border-bottom: 3pt solid ${PALETTE.main}; margin-bottom: 10pt; }
.brand { writing-mode: vertical-rl; transform: rotate(180deg); font-size: 7pt; letter-spacing: 0.3em; color: #fff; background: ${PALETTE.main}; padding: 6pt 3pt; font-weight: 700; }
.titles { flex: 1; }
.subtitle { font-size: 11pt; color: ${PALETTE.muted}; margin-top: 2pt; }
.month { text-align: right; }
.month-text { font-size: 15pt; font-weight: 700; color: ${PALETTE.main}; }
.kpis { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6pt; margin: 8pt 0 4pt; }
.kpi { border: 0.75pt solid ${PALETTE.grid}; border-left: 3pt solid ${PALETTE.main}; padding: 5pt 7pt; background: #f7f9fb; break-inside: avoid; }
.kpi.good { border-left-color: ${PALETTE.guide}; } .kpi.bad { border-left-color: ${PALETTE.constraint}; } .kpi.warn { border-left-color: #e0a100; }
.kpi-title { font-size: 7.5pt; color: ${PALETTE.muted}; text-transform: uppercase; letter-spacing: 0.03em; }
.kpi-value { font-size: 14pt; font-weight: 700; margin: 1pt 0; white-space: nowrap; }
.kpi-line { font-size: 7.5pt; color: ${PALETTE.muted}; }
table { border-collapse: collapse; width: 100%; }
table.facts { margin: 4pt 0 8pt; }
table.facts th { text-align: left; font-weight: 600; color: ${PALETTE.muted}; width: 18%; padding: 2.5pt 6pt 2.5pt 0; vertical-align: top; font-size: 8.5pt; }
table.facts td { padding: 2.5pt 10pt 2.5pt 0; vertical-align: top; }
table.data { margin: 4pt 0 6pt; font-size: 8.5pt; }
table.data thead th { text-align: left; font-weight: 600; color: #fff; background: ${PALETTE.main}; padding: 3pt 5pt; }
table.data td { padding: 3pt 5pt; border-bottom: 0.5pt solid ${PALETTE.grid}; vertical-align: top; }
table.data tbody tr:nth-child(even) td { background: #f7f9fb; }
table.data tr { break-inside: avoid; }
table.data tr.total td { font-weight: 700; border-top: 1pt solid ${PALETTE.ink}; border-bottom: 1.5pt solid ${PALETTE.ink}; background: #eef2f6; }
table.data tr.sub td:first-child { padding-left: 14pt; }
table.compact { width: auto; min-width: 50%; }
.mv-figures th { text-align: left; font-weight: 600; color: ${PALETTE.muted}; padding-right: 12pt; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead th.num { text-align: right; }
.sub { font-size: 7.5pt; color: ${PALETTE.muted}; }
.mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 0.92em; }
.small { font-size: 7.5pt; }
.muted { color: ${PALETTE.muted}; }
.up { color: ${PALETTE.constraint}; } .down { color: ${PALETTE.guide}; }
.flag { color: ${PALETTE.constraint}; }
.bad { color: ${PALETTE.constraint}; font-weight: 600; }
.good-text { color: ${PALETTE.guide}; font-weight: 600; } .bad-text { color: ${PALETTE.constraint}; font-weight: 600; }
.warn { color: #a66f00; }
.kpi.bad, .kpi.good, .kpi.warn { color: inherit; font-weight: normal; }
.note { background: #fff8e6; border-left: 3pt solid #e0a100; padding: 4pt 7pt; margin: 4pt 0; font-size: 8.5pt; }
.empty { color: ${PALETTE.muted}; font-style: italic; }
.foot { font-size: 7.5pt; color: ${PALETTE.muted}; margin: 0 0 6pt; }
.badge { display: inline-block; padding: 1pt 6pt; border-radius: 8pt; font-size: 8pt; font-weight: 700; color: #fff; background: ${PALETTE.muted}; }
.badge.good { background: ${PALETTE.guide}; } .badge.warn, .badge.warning { background: #e0a100; } .badge.bad, .badge.critical { background: ${PALETTE.constraint}; } .badge.info { background: ${PALETTE.main}; }
.mv { border: 0.75pt solid ${PALETTE.grid}; padding: 6pt 8pt; margin-bottom: 8pt; break-inside: avoid; }
.mv-head { font-size: 9pt; margin-bottom: 2pt; }
.findings { font-size: 8pt; margin: 4pt 0; break-inside: avoid; }
.findings ul { margin: 2pt 0 0 12pt; padding: 0; }
.findings.bad strong { color: ${PALETTE.constraint}; } .findings.warn strong { color: #a66f00; }
.findings.bad { font-weight: normal; color: inherit; }
.lineage { font-size: 7.5pt; color: ${PALETTE.muted}; margin: 4pt 0 0; word-break: break-all; }
ul.notes { font-size: 8pt; color: ${PALETTE.muted}; padding-left: 12pt; }
`;
}
