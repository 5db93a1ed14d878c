/**
 * The human-readable pack: one self-contained HTML document in zh-CN or en that prints to A4
 * (the monthly report's stylesheet, charts and PDF path), with the figures, charts (monthly
 * actual vs baseline with its 90 % band, cumulative savings), the data-quality statement, the
 * inputs with their Merkle roots, and the pack digest and signing-key fingerprint.
 */
import { FONT_FAMILY, PALETTE, render } from '../report/charts.js';
import { escapeHtml as h, formatDate, formatDateTime, formatNumber } from '../report/format.js';
import { stylesheet } from '../report/html.js';
import type { ReportLang } from '../report/messages.js';
import type { Pack, PackCovenantTest, PackMvEntry, PackSettlement } from './types.js';

const en = {
  title: 'Verifiable M&V report pack',
  subject: 'Subject',
  period: 'Period',
  asOf: 'Data as of',
  generated: 'Generated',
  building: 'Building',
  loan: 'Loan',
  policy: 'Policy',
  status: 'Status',
  verified: 'verified',
  verified_with_override: 'verified with override',
  not_verified: 'not verified',
  sectionSummary: '1 Verified savings',
  sectionResults: '2 M&V results',
  sectionQuality: '3 Data quality',
  sectionInputs: '4 Input data and digests',
  sectionMethods: '5 Methods and reference data',
  sectionVerify: '6 How to verify',
  meter: 'Meter',
  model: 'Model',
  reporting: 'Reporting period',
  avoided: 'Avoided energy',
  avoidedInPeriod: 'Avoided in the pack period',
  band90: '90 % uncertainty ±',
  fraction: 'Savings fraction',
  counterfactual: 'Baseline (counterfactual)',
  observed: 'Actual',
  adjusted: 'With non-routine adjustments',
  month: 'Month',
  chartMonthly: 'Monthly actual use vs baseline prediction (band: ±90 % uncertainty)',
  chartCumulative: 'Cumulative avoided energy with its 90 % band',
  adjustments: 'Non-routine adjustments',
  none: 'none',
  warnings: 'Warnings',
  disqualifications: 'Disqualifications',
  series: 'Series',
  readings: 'Readings',
  coverage: 'Coverage',
  gaps: 'Gaps',
  missingHours: 'Missing h',
  imputed: 'Imputed',
  zerosNegatives: 'Zeros / negatives',
  registerEvents: 'Register events',
  root: 'Merkle root',
  file: 'Export file',
  method: 'Method',
  version: 'Version',
  reference: 'Reference data',
  records: 'Records used',
  digest: 'Pack digest (sha256 of the canonical JSON)',
  key: 'Signing key (Ed25519, sha256 of the public key)',
  lineage: 'Lineage digest',
  verifyText:
    'Every figure in this report is in the signed pack.json. A verifier re-derives them with `wattproof verify pack.json --public-key signer.pub.pem` from the stores, or with `--data <export directory>` from the CSV export alone: the Merkle roots of the readings, the inputs digests and every M&V figure must come out identical. docs/packs.md describes the encodings for an independent implementation.',
  packWarnings: 'Pack warnings',
  sectionCovenants: 'Covenant tests',
  sectionSettlements: 'Settlements',
  covenant: 'Covenant',
  kpi: 'KPI',
  testDate: 'Test date',
  value: 'KPI value',
  threshold: 'Threshold',
  marginStep: 'Margin step, bp',
  pFailNext: 'P(fail next test)',
  cure: 'Consecutive failures / cure periods',
  graceEnds: 'Grace ends',
  chartCovenant: 'KPI over trailing windows vs threshold (band: 90 % interval of each observation)',
  observations: 'Observations',
  periodId: 'Period',
  guaranteed: 'Guaranteed savings',
  verifiedSavings: 'Verified savings',
  shortfall: 'Shortfall',
  payout: 'Payout',
  deductible: 'Deductible',
  limit: 'Limit',
  settleable: 'Settleable',
  yes: 'yes',
  no: 'no',
  chartSettlement: 'Guaranteed vs verified savings (band: 90 % interval of the verified figure)',
  loanTerms: 'Loan',
  policyTerms: 'Policy',
  lender: 'Lender',
  borrower: 'Borrower',
  insurer: 'Insurer',
  insured: 'Insured',
  snapshots: 'Readings snapshots (daily kWh) checked against the readings',
  matches: 'matches the readings',
  differs: 'differs from the readings on',
  days: 'days',
};
type Key = keyof typeof en;
const zh: Record<Key, string> = {
  title: '可验证的节能量测量与验证报告包',
  subject: '对象',
  period: '期间',
  asOf: '数据截至',
  generated: '生成时间',
  building: '建筑',
  loan: '贷款',
  policy: '保单',
  status: '状态',
  verified: '已验证',
  verified_with_override: '经批准豁免后验证',
  not_verified: '未验证',
  sectionSummary: '1 已验证节能量',
  sectionResults: '2 测量与验证结果',
  sectionQuality: '3 数据质量',
  sectionInputs: '4 输入数据与摘要',
  sectionMethods: '5 方法与参考数据',
  sectionVerify: '6 如何验证',
  meter: '计量表',
  model: '模型',
  reporting: '报告期',
  avoided: '避免能耗',
  avoidedInPeriod: '本期间避免能耗',
  band90: '90 % 不确定度 ±',
  fraction: '节能率',
  counterfactual: '基准预测（反事实）',
  observed: '实际用量',
  adjusted: '含非常规调整',
  month: '月份',
  chartMonthly: '每月实际用量与基准预测（阴影：±90 % 不确定度）',
  chartCumulative: '累计避免能耗及 90 % 区间',
  adjustments: '非常规调整',
  none: '无',
  warnings: '警告',
  disqualifications: '不合格项',
  series: '序列',
  readings: '读数',
  coverage: '覆盖率',
  gaps: '缺口',
  missingHours: '缺失小时',
  imputed: '插补',
  zerosNegatives: '零值 / 负值',
  registerEvents: '表码事件',
  root: 'Merkle 根',
  file: '导出文件',
  method: '方法',
  version: '版本',
  reference: '参考数据',
  records: '使用的记录',
  digest: '报告包摘要（规范 JSON 的 sha256）',
  key: '签名密钥（Ed25519，公钥的 sha256）',
  lineage: '溯源摘要',
  verifyText:
    '本报告的每个数字都在已签名的 pack.json 中。验证方可用 `wattproof verify pack.json --public-key signer.pub.pem` 从数据存储重新计算，或用 `--data <导出目录>` 仅凭 CSV 导出重新计算：读数的 Merkle 根、输入摘要和每个测量与验证数字都必须完全一致。docs/packs.md 说明了编码方式，便于独立实现。',
  packWarnings: '报告包警告',
  sectionCovenants: '贷款契约测试',
  sectionSettlements: '保险结算',
  covenant: '契约',
  kpi: '指标',
  testDate: '测试日',
  value: '指标值',
  threshold: '阈值',
  marginStep: '利率调整（基点）',
  pFailNext: '下次测试未达标概率',
  cure: '连续未达标次数 / 补救期数',
  graceEnds: '宽限期截止',
  chartCovenant: '滚动窗口指标与阈值（阴影：每个观测值的 90 % 区间）',
  observations: '观测值',
  periodId: '期间',
  guaranteed: '保证节能量',
  verifiedSavings: '已验证节能量',
  shortfall: '差额',
  payout: '赔付',
  deductible: '免赔额',
  limit: '赔偿限额',
  settleable: '可结算',
  yes: '是',
  no: '否',
  chartSettlement: '保证节能量与已验证节能量（阴影：已验证值的 90 % 区间）',
  loanTerms: '贷款',
  policyTerms: '保单',
  lender: '贷款人',
  borrower: '借款人',
  insurer: '保险人',
  insured: '被保险人',
  snapshots: '读数快照（每日 kWh）与读数的核对',
  matches: '与读数一致',
  differs: '与读数不一致，日期',
  days: '天',
};

function text(lang: ReportLang, key: Key): string {
  return (lang === 'zh-CN' ? zh : en)[key];
}

const axis = { axisLine: { lineStyle: { color: PALETTE.muted } }, axisLabel: { color: PALETTE.muted, fontSize: 10 }, splitLine: { lineStyle: { color: PALETTE.grid } } };
const legend = { top: 0, right: 0, itemWidth: 12, itemHeight: 8, textStyle: { fontSize: 10, color: PALETTE.ink } };

function band90(levels: ReadonlyArray<{ confidence: number; absolute: number }>): number | null {
  return levels.find((l) => l.confidence === 0.9)?.absolute ?? null;
}

/** Monthly observed bars against the counterfactual line with its ±90 % band. */
export function monthlyChart(lang: ReportLang, m: PackMvEntry): string | null {
  const rows = m.result.savings.monthly;
  if (!rows.length) return null;
  const lower = rows.map((r) => {
    const b = band90(r.uncertainty.levels);
    return b === null ? null : r.counterfactual - b;
  });
  const width = rows.map((r) => {
    const b = band90(r.uncertainty.levels);
    return b === null ? null : 2 * b;
  });
  return render(
    {
      legend: { ...legend, data: [text(lang, 'observed'), text(lang, 'counterfactual')] },
      grid: { left: 64, right: 12, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: rows.map((r) => r.period.slice(2).replace('-', '/')), ...axis, splitLine: { show: false } },
      yAxis: { type: 'value', name: 'kWh', nameTextStyle: { color: PALETTE.muted, fontSize: 10 }, ...axis },
      series: [
        { type: 'bar', name: text(lang, 'observed'), data: rows.map((r) => r.observed), itemStyle: { color: PALETTE.endUses[0] }, barCategoryGap: '35%' },
        { type: 'line', name: 'lower', data: lower, stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, silent: true },
        { type: 'line', name: '90 %', data: width, stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, areaStyle: { color: PALETTE.band, opacity: 0.6 }, silent: true },
        { type: 'line', name: text(lang, 'counterfactual'), data: rows.map((r) => r.counterfactual), symbol: 'circle', symbolSize: 4, lineStyle: { color: PALETTE.main, width: 2 }, itemStyle: { color: PALETTE.main } },
      ],
    },
    240,
  );
}

/** Cumulative avoided energy with its ±90 % band. */
export function cumulativeChart(lang: ReportLang, m: PackMvEntry): string | null {
  const rows = m.result.savings.cumulative;
  if (!rows.length) return null;
  const b = rows.map((r) => band90(r.uncertainty.levels));
  return render(
    {
      legend: { ...legend, data: [text(lang, 'avoided')] },
      grid: { left: 64, right: 12, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: rows.map((r) => r.period.slice(2).replace('-', '/')), boundaryGap: false, ...axis, splitLine: { show: false } },
      yAxis: { type: 'value', name: 'kWh', nameTextStyle: { color: PALETTE.muted, fontSize: 10 }, ...axis },
      series: [
        { type: 'line', name: 'lower', data: rows.map((r, i) => (b[i] === null ? null : r.avoided - b[i]!)), stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, silent: true },
        { type: 'line', name: '90 %', data: b.map((x) => (x === null ? null : 2 * x)), stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, areaStyle: { color: PALETTE.band, opacity: 0.6 }, silent: true },
        { type: 'line', name: text(lang, 'avoided'), data: rows.map((r) => r.avoided), symbol: 'circle', symbolSize: 4, lineStyle: { color: PALETTE.main, width: 2 }, itemStyle: { color: PALETTE.main } },
      ],
    },
    220,
  );
}

const Z90 = 1.6448536269514722;

/** A covenant's KPI over its trailing windows (window end) against the threshold, with each observation's ±90 % band. */
export function covenantChart(lang: ReportLang, c: PackCovenantTest): string | null {
  const byEnd = new Map<string, { value: number; se: number }>();
  for (const o of c.observations) if (!o.disqualifications.length) byEnd.set(o.window.end, { value: o.value, se: o.standardError });
  const ends = [...byEnd.keys()].sort();
  if (!ends.length) return null;
  const pts = ends.map((e) => byEnd.get(e)!);
  return render(
    {
      legend: { ...legend, data: [text(lang, 'value'), text(lang, 'threshold')] },
      grid: { left: 64, right: 12, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: ends, boundaryGap: false, ...axis, splitLine: { show: false } },
      yAxis: { type: 'value', scale: true, ...axis },
      series: [
        { type: 'line', name: 'lower', data: pts.map((p) => p.value - Z90 * p.se), stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, silent: true },
        { type: 'line', name: '90 %', data: pts.map((p) => 2 * Z90 * p.se), stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, areaStyle: { color: PALETTE.band, opacity: 0.6 }, silent: true },
        { type: 'line', name: text(lang, 'value'), data: pts.map((p) => p.value), symbol: 'circle', symbolSize: 4, lineStyle: { color: PALETTE.main, width: 2 }, itemStyle: { color: PALETTE.main } },
        { type: 'line', name: text(lang, 'threshold'), data: ends.map(() => c.spec.threshold), symbol: 'none', lineStyle: { color: PALETTE.endUses[1] ?? PALETTE.muted, width: 1.5, type: 'dashed' }, itemStyle: { color: PALETTE.endUses[1] ?? PALETTE.muted } },
      ],
    },
    200,
  );
}

/** Guaranteed vs verified savings of a settled period, the verified figure's 90 % band as error bars. */
export function settlementChart(lang: ReportLang, s: PackSettlement): string {
  const f = s.claim.figures;
  const band = s.claim.uncertainty.band90Kwh;
  return render(
    {
      legend: { ...legend, data: [text(lang, 'guaranteed'), text(lang, 'verifiedSavings')] },
      grid: { left: 80, right: 12, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: [s.periodId], ...axis, splitLine: { show: false } },
      yAxis: { type: 'value', name: 'kWh', nameTextStyle: { color: PALETTE.muted, fontSize: 10 }, ...axis },
      series: [
        { type: 'bar', name: text(lang, 'guaranteed'), data: [f.guaranteedKwh], itemStyle: { color: PALETTE.muted }, barGap: '20%', barWidth: 60 },
        {
          type: 'bar',
          name: text(lang, 'verifiedSavings'),
          data: [f.verifiedKwh],
          itemStyle: { color: PALETTE.main },
          barWidth: 60,
          markArea: { silent: true, itemStyle: { color: PALETTE.band, opacity: 0.5 }, data: [[{ yAxis: band.low }, { yAxis: band.high }]] },
        },
      ],
    },
    200,
  );
}

/** Renders a signed pack as a printable HTML document (UTF-8). */
export function renderPackHtml(pack: Pack, lang: ReportLang = 'zh-CN'): string {
  const t = (k: Key) => h(text(lang, k));
  const tz = pack.period.timeZone;
  const n = (v: number | null | undefined, digits?: number) => (v === null || v === undefined ? '–' : h(formatNumber(lang, v, digits)));
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? '–' : `${h(formatNumber(lang, v * 100, 1))}%`);
  const s = pack.subject;
  const subject = s.kind === 'building' ? `${t('building')} ${h(s.site)}/${h(s.building)}` : `${t(s.kind)} ${h(s.id)}`;
  const periodText = `${formatDate(lang, pack.period.from, tz)} – ${formatDate(lang, pack.period.to, tz)}`;
  const css =
    stylesheet({ building: subject.replace(/<[^>]+>/g, ''), month: periodText, footer: `${text(lang, 'digest')}: ${pack.signature.digest.slice(0, 23)}…` }) +
    `\n.hash { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 7pt; word-break: break-all; }\n.verify { border: 1pt solid ${PALETTE.main}; padding: 6pt 8pt; background: #f3f7fb; font-size: 8.5pt; }\nbody { font-family: ${FONT_FAMILY}; }`;

  const totalAvoided = pack.mv.reduce((a, m) => a + m.result.savings.avoided, 0);
  const periodAvoided = pack.mv.reduce((a, m) => a + m.period.avoided, 0);
  const summary = `<table class="data">
    <thead><tr><th>${t('meter')}</th><th>${t('status')}</th><th class="num">${t('avoided')}, kWh</th><th class="num">${t('band90')}</th><th class="num">${t('fraction')}</th><th class="num">${t('adjusted')}</th><th class="num">${t('avoidedInPeriod')}</th></tr></thead>
    <tbody>${pack.mv
      .map(
        (m) => `<tr><td class="mono">${h(m.meter.site)}/${h(m.meter.building)}/${h(m.meter.meter)}</td><td><span class="badge ${m.result.status === 'verified' ? 'good' : m.result.status === 'not_verified' ? 'bad' : 'warn'}">${t(m.result.status)}</span></td>
        <td class="num">${n(m.result.savings.avoided, 0)}</td><td class="num">${n(band90(m.result.savings.uncertainty), 0)}</td><td class="num">${pct(m.result.savings.fraction)}</td><td class="num">${n(m.result.savings.adjusted.avoided, 0)}</td><td class="num">${n(m.period.avoided, 0)}</td></tr>`,
      )
      .join('')}
    ${pack.mv.length > 1 ? `<tr class="total"><td colspan="2"></td><td class="num">${n(totalAvoided, 0)}</td><td></td><td></td><td></td><td class="num">${n(periodAvoided, 0)}</td></tr>` : ''}</tbody></table>
    <table class="facts">
      <tr><th>${t('digest')}</th><td class="hash">${h(pack.signature.digest)}</td></tr>
      <tr><th>${t('key')}</th><td class="hash">${h(pack.signer.fingerprint)}</td></tr>
    </table>
    ${pack.warnings.length ? `<div class="findings warn"><strong>${t('packWarnings')}</strong><ul>${pack.warnings.map((w) => `<li><span class="mono">${h(w.code)}</span> — ${h(w.message)}</li>`).join('')}</ul></div>` : ''}`;

  const results = pack.mv
    .map((m) => {
      const monthly = monthlyChart(lang, m);
      const cumulative = cumulativeChart(lang, m);
      const r = m.result;
      return `<div class="mv">
      <div class="mv-head"><span class="mono">${h(m.meter.site)}/${h(m.meter.building)}/${h(m.meter.meter)}</span> · ${t('model')}: <span class="mono">${h(r.model.kind)} / ${h(r.model.type)}</span> · ${t('method')}: ${h(r.lineage.method.name)} ${h(r.lineage.method.version)}</div>
      <div class="muted small">${t('reporting')}: ${h(formatDate(lang, m.definition.reporting.start, tz))} – ${h(formatDate(lang, m.definition.reporting.end, tz))} · ${h(m.resultRecord)} · ${h(formatDateTime(lang, m.ranAtMs, tz))}</div>
      ${monthly ? `<figure><figcaption>${t('chartMonthly')}</figcaption>${monthly}</figure>` : ''}
      ${cumulative ? `<figure><figcaption>${t('chartCumulative')}</figcaption>${cumulative}</figure>` : ''}
      <table class="data compact"><thead><tr><th>${t('month')}</th><th class="num">${t('counterfactual')}</th><th class="num">${t('observed')}</th><th class="num">${t('avoided')}</th><th class="num">${t('band90')}</th><th class="num">${t('fraction')}</th><th class="num">${t('adjusted')}</th></tr></thead>
      <tbody>${r.savings.monthly
        .map((x) => `<tr><td>${h(x.period)}</td><td class="num">${n(x.counterfactual, 0)}</td><td class="num">${n(x.observed, 0)}</td><td class="num">${n(x.avoided, 0)}</td><td class="num">${n(band90(x.uncertainty.levels), 0)}</td><td class="num">${pct(x.fraction)}</td><td class="num">${n(x.adjustedAvoided, 0)}</td></tr>`)
        .join('')}</tbody></table>
      <h3>${t('adjustments')}</h3>
      ${m.adjustments.length ? `<table class="data compact"><tbody>${m.adjustments.map((a) => `<tr><td class="mono">${h(a.id)}</td><td>${h(a.event)}</td><td>${h(a.method)} ${n(a.amount)}</td><td>${h(a.evidence)}</td><td>${h(a.approver)}</td></tr>`).join('')}</tbody></table>` : `<p class="empty">${t('none')}</p>`}
      ${r.disqualifications.length ? `<div class="findings bad"><strong>${t('disqualifications')}</strong><ul>${r.disqualifications.map((f) => `<li><span class="mono">${h(f.code)}</span> — ${h(f.message)}</li>`).join('')}</ul></div>` : ''}
      ${r.warnings.length ? `<div class="findings warn"><strong>${t('warnings')}</strong><ul>${r.warnings.map((f) => `<li><span class="mono">${h(f.code)}</span> — ${h(f.message)}</li>`).join('')}</ul></div>` : ''}
      <p class="lineage">${t('lineage')}: <span class="mono">${h(r.lineage.digest)}</span> · <span class="mono">${h(r.lineage.codeVersion)}</span></p>
    </div>`;
    })
    .join('');

  const fin = pack.finance;
  const badge = (status: string) => `<span class="badge ${status === 'pass' ? 'good' : status === 'fail' || status === 'breach' ? 'bad' : 'warn'}">${h(status)}</span>`;
  const covenants = pack.covenants.length
    ? `${fin?.loan ? `<table class="facts"><tr><th>${t('loanTerms')}</th><td class="mono">${h(fin.loan.id)}</td></tr><tr><th>${t('lender')} / ${t('borrower')}</th><td>${h(fin.loan.value.lender)} / ${h(fin.loan.value.borrower)}</td></tr></table>` : ''}
    <table class="data compact"><thead><tr><th>${t('covenant')}</th><th>${t('kpi')}</th><th>${t('testDate')}</th><th>${t('status')}</th><th class="num">${t('value')}</th><th class="num">${t('threshold')}</th><th class="num">${t('marginStep')}</th><th class="num">${t('pFailNext')}</th><th class="num">${t('cure')}</th><th>${t('graceEnds')}</th></tr></thead>
    <tbody>${pack.covenants
      .map((c) => {
        const e = c.evaluation;
        return `<tr><td class="mono">${h(c.covenantId)}</td><td class="mono small">${h(e.kpi)}</td><td>${h(e.testDate)}</td><td>${badge(e.status)}</td><td class="num">${n(e.kpiValue, 4)}</td><td class="num">${h(e.operator)} ${n(e.threshold, 4)}</td><td class="num">${n(e.marginStepBp, 0)}</td><td class="num">${pct(e.projection.probabilityOfFailing)}</td><td class="num">${n(e.cure.consecutiveFailures, 0)} / ${n(e.cure.curePeriods, 0)}</td><td>${h(e.grace.ends)}</td></tr>`;
      })
      .join('')}</tbody></table>
    ${pack.covenants
      .map((c) => {
        const chart = covenantChart(lang, c);
        const e = c.evaluation;
        return `<div class="mv"><div class="mv-head"><span class="mono">${h(c.covenantId)}</span> · ${badge(e.status)} · ${h(c.record)}</div>
        ${chart ? `<figure><figcaption>${t('chartCovenant')}</figcaption>${chart}</figure>` : ''}
        <p class="small muted">${t('observations')}: ${n(c.observations.length, 0)} · ${e.evidence.sources.map((x) => `<span class="mono">${h(x.resultId)}</span>`).join(' · ')}</p>
        ${e.disqualifications.length ? `<div class="findings bad"><strong>${t('disqualifications')}</strong><ul>${e.disqualifications.map((f) => `<li><span class="mono">${h(f.code)}</span> — ${h(f.message)}</li>`).join('')}</ul></div>` : ''}
        ${e.warnings.length ? `<div class="findings warn"><strong>${t('warnings')}</strong><ul>${e.warnings.map((f) => `<li><span class="mono">${h(f.code)}</span> — ${h(f.message)}</li>`).join('')}</ul></div>` : ''}
        <p class="lineage">${t('lineage')}: <span class="mono">${h(c.lineage.digest)}</span></p></div>`;
      })
      .join('')}
    ${fin?.snapshots.length ? `<h3>${t('snapshots')}</h3><table class="data compact"><tbody>${fin.snapshots.map((x) => `<tr><td class="mono small">${h(x.record)}</td><td class="mono small">${h(x.key)}</td><td>${n(x.readings.days, 0)} ${t('days')}</td><td>${x.readings.matches ? t('matches') : `${t('differs')} ${h(x.readings.differingDays.map((d) => d.date).join(', '))}`}</td></tr>`).join('')}</tbody></table>` : ''}`
    : '';
  const settlements = pack.settlements.length
    ? `${fin?.policy ? `<table class="facts"><tr><th>${t('policyTerms')}</th><td class="mono">${h(fin.policy.id)}</td></tr><tr><th>${t('insurer')} / ${t('insured')}</th><td>${h(fin.policy.value.insurer)} / ${h(fin.policy.value.insured)}</td></tr></table>` : ''}
    <table class="data compact"><thead><tr><th>${t('periodId')}</th><th class="num">${t('guaranteed')}, kWh</th><th class="num">${t('verifiedSavings')}, kWh</th><th class="num">${t('band90')}</th><th class="num">${t('shortfall')}, kWh</th><th class="num">${t('deductible')}, CNY</th><th class="num">${t('limit')}, CNY</th><th class="num">${t('payout')}, CNY</th><th>${t('settleable')}</th></tr></thead>
    <tbody>${pack.settlements
      .map((x) => {
        const f = x.claim.figures;
        return `<tr><td class="mono">${h(x.periodId)}<div class="sub">${h(x.claim.period.from)} – ${h(x.claim.period.to)}</div></td><td class="num">${n(f.guaranteedKwh, 0)}</td><td class="num">${n(f.verifiedKwh, 0)}</td><td class="num">${n(Z90 * x.claim.uncertainty.standardErrorKwh, 0)}</td><td class="num">${n(f.shortfallKwh, 0)}</td><td class="num">${n(f.deductibleCny, 0)}</td><td class="num">${n(f.limitCny, 0)}</td><td class="num"><strong>${n(f.payoutCny, 2)}</strong></td><td>${x.claim.settleable ? t('yes') : t('no')}</td></tr>`;
      })
      .join('')}</tbody></table>
    ${pack.settlements
      .map(
        (x) => `<div class="mv"><figure><figcaption>${t('chartSettlement')}</figcaption>${settlementChart(lang, x)}</figure>
        ${x.claim.disqualifications.length ? `<div class="findings bad"><strong>${t('disqualifications')}</strong><ul>${x.claim.disqualifications.map((f) => `<li><span class="mono">${h(f.code)}</span> — ${h(f.message)}</li>`).join('')}</ul></div>` : ''}
        ${x.claim.warnings.length ? `<div class="findings warn"><strong>${t('warnings')}</strong><ul>${x.claim.warnings.map((f) => `<li><span class="mono">${h(f.code)}</span> — ${h(f.message)}</li>`).join('')}</ul></div>` : ''}
        <p class="lineage">${h(x.record)} · ${t('lineage')}: <span class="mono">${h(x.lineage.digest)}</span></p></div>`,
      )
      .join('')}`
    : '';

  const quality = `<table class="data"><thead><tr><th>${t('series')}</th><th class="num">${t('readings')}</th><th class="num">${t('coverage')}</th><th class="num">${t('gaps')}</th><th class="num">${t('missingHours')}</th><th class="num">${t('imputed')}</th><th class="num">${t('zerosNegatives')}</th><th class="num">${t('registerEvents')}</th></tr></thead>
    <tbody>${pack.dataQuality
      .map((q) => `<tr><td class="mono small">${h(q.series)}</td><td class="num">${n(q.readings, 0)}</td><td class="num">${pct(q.coverage)}</td><td class="num">${n(q.gaps, 0)}</td><td class="num">${n(q.missingHours, 1)}</td><td class="num">${pct(q.imputedShare)}</td><td class="num">${n(q.zeros, 0)} / ${n(q.negatives, 0)}</td><td class="num">${n(q.registerEvents.length, 0)}</td></tr>`)
      .join('')}</tbody></table>`;

  const inputs = `<table class="data"><thead><tr><th>${t('series')}</th><th class="num">${t('readings')}</th><th>${t('root')} / ${t('file')}</th></tr></thead>
    <tbody>${pack.inputs.map((x) => `<tr><td class="mono small">${h(x.id)}<div class="sub">${h(x.unit)}</div></td><td class="num">${n(x.readings, 0)}</td><td class="hash">${h(x.root)}<div class="sub">${h(x.file)} · sha256 ${h(x.fileSha256)}</div></td></tr>`).join('')}</tbody></table>
    <table class="data compact"><thead><tr><th>${t('meter')}</th><th>inputs sha256</th></tr></thead><tbody>${pack.mv.map((m) => `<tr><td class="mono small">${h(m.inputsRecord)}</td><td class="hash">${h(m.inputsDigest)}</td></tr>`).join('')}</tbody></table>`;

  const methods = `<table class="data compact"><thead><tr><th>${t('method')}</th><th>${t('version')}</th></tr></thead><tbody>${pack.methods.map((m) => `<tr><td class="mono">${h(m.name)}</td><td>${h(m.version)}</td></tr>`).join('')}</tbody></table>
    <table class="data"><thead><tr><th>${t('reference')}</th><th>${t('version')}</th><th>sha256</th></tr></thead><tbody>${pack.referenceData.map((r) => `<tr><td class="mono">${h(r.id)}</td><td>${h(r.version)}</td><td class="hash">${h(r.sha256)}</td></tr>`).join('')}</tbody></table>
    <p class="small muted">${t('records')}: ${pack.records.map((r) => `<span class="mono">${h(r.kind)} ${h(r.id)}</span>`).join(' · ')}</p>`;

  return `<!doctype html>
<html lang="${h(lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="Wattproof ${h(pack.generator.version)}">
<title>${t('title')} · ${subject.replace(/<[^>]+>/g, '')} · ${h(periodText)}</title>
<style>${css}</style>
</head>
<body>
<header class="masthead">
  <div class="brand">WATTPROOF</div>
  <div class="titles"><h1>${t('title')}</h1><div class="subtitle">${subject}</div></div>
  <div class="month"><div class="month-text">${h(periodText)}</div><div class="muted small">${t('asOf')} ${h(formatDateTime(lang, pack.asOfMs, tz))} · ${t('generated')} ${h(formatDateTime(lang, pack.generatedAt, tz))}</div></div>
</header>
${covenants ? `<section><h2>${t('sectionCovenants')}</h2>${covenants}</section>` : ''}
${settlements ? `<section><h2>${t('sectionSettlements')}</h2>${settlements}</section>` : ''}
<section><h2>${t('sectionSummary')}</h2>${summary}</section>
<section><h2>${t('sectionResults')}</h2>${results}</section>
<section class="break-before"><h2>${t('sectionQuality')}</h2>${quality}</section>
<section><h2>${t('sectionInputs')}</h2>${inputs}</section>
<section><h2>${t('sectionMethods')}</h2>${methods}</section>
<section><h2>${t('sectionVerify')}</h2><p class="verify">${t('verifyText')}</p>
<table class="facts"><tr><th>${t('digest')}</th><td class="hash">${h(pack.signature.digest)}</td></tr><tr><th>${t('key')}</th><td class="hash">${h(pack.signer.fingerprint)}</td></tr></table></section>
</body>
</html>
`;
}
