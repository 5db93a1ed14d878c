/**
 * Languages of the console: Simplified Chinese (default) and English. Every label comes from one
 * message table per language; numbers and dates are formatted with Intl in the chosen language.
 * The choice is kept in localStorage and set as the document's `lang`.
 */
import { createContext } from 'preact';
import { useContext, useMemo, useState } from 'preact/hooks';
import type { ComponentChildren } from 'preact';
import { FINANCE_EN, FINANCE_ZH } from './finance/messages.js';

export type Lang = 'zh-CN' | 'en';
export const LANGS: readonly Lang[] = ['zh-CN', 'en'];
const STORAGE_KEY = 'wattproof.lang';

const en = {
  'app.name': 'Wattproof',
  'app.tagline': 'Verified energy savings',
  'skip': 'Skip to content',
  'nav.label': 'Main',
  'nav.portfolio': 'Portfolio',
  'nav.quality': 'Data quality',
  'nav.alerts': 'Alerts',
  'lang.label': 'Language',
  'lang.switch': '中文',
  'lang.switchLabel': 'Switch to Chinese (中文)',
  'footer.api': 'API',
  'footer.docs': 'API documentation',
  'footer.license': 'Open source under the Apache License 2.0',
  'loading': 'Loading…',
  'error.load': 'Could not load {what}: {message}',
  'retry': 'Retry',
  'none': '—',
  'notFound.title': 'Page not found',
  'notFound.back': 'Back to the portfolio',
  'live.connected': 'Live',
  'live.connecting': 'Connecting…',
  'live.lost': 'Live updates interrupted; reconnecting…',
  'csv.download': 'Download CSV',
  'csv.downloadOf': 'Download CSV: {title}',
  'table.show': 'Data table',
  'table.firstRows': 'First {n} of {total} rows; the CSV has all of them.',
  'portfolio.title': 'Portfolio',
  'portfolio.intro': 'Sites and buildings with live power, today\'s energy, rolling 12-month EUI against the GB/T 51161 quota, alerts and data coverage.',
  'portfolio.empty': 'No sites yet. Connect a meter (wattproof device add) or start the simulator.',
  'portfolio.sitePlan': 'Site plan of {site}',
  'portfolio.sitePlanDesc': 'Schematic: each square is a building, its area proportional to the floor area, its colour the EUI status; the buildings have no coordinates, so the layout is a grid.',
  'portfolio.sitesMap': 'Sites by location',
  'portfolio.buildings': 'Buildings of {site}',
  'portfolio.timezone': 'Time zone {tz}',
  'portfolio.table': 'Buildings as a table',
  'kpi.live': 'Live power',
  'kpi.today': 'Today',
  'kpi.eui': 'EUI (12 months)',
  'kpi.quota': 'Quota {constraint} · guide {guide}',
  'kpi.noQuota': 'No GB/T 51161 quota for this type',
  'kpi.annualised': 'annualised from {days} days',
  'kpi.alerts': 'Active alerts',
  'kpi.coverage': 'Coverage (30 days)',
  'kpi.noElectricity': 'No main electricity meter',
  'kpi.asOf': 'as of {time}',
  'eui.withinGuide': 'within the guide value',
  'eui.withinConstraint': 'within the constraint value',
  'eui.aboveConstraint': 'above the constraint value',
  'eui.noQuota': 'no quota',
  'unit.kW': 'kW',
  'unit.kWh': 'kWh',
  'unit.euI': 'kWh/(m²·a)',
  'unit.m2': 'm²',
  'building.title': 'Building',
  'building.back': 'Portfolio',
  'building.type': 'Type',
  'building.area': 'Floor area',
  'building.meters': 'Meters',
  'building.site': 'Site',
  'building.liveChart': 'Live power of the main meter',
  'building.liveChartDesc': 'Line chart of the main meter\'s mean power per interval over the last 6 hours, in kW, updated live.',
  'building.endUse': 'Daily energy by end use (12 months)',
  'building.endUseDesc': 'Stacked area chart of daily electricity per sub-meter end use over the last 12 months, in kWh.',
  'building.mainOnly': 'Daily energy of the main meter (12 months)',
  'building.mainOnlyDesc': 'Area chart of the main meter\'s daily electricity over the last 12 months, in kWh.',
  'building.heatmap': 'Load profile: hour of day × day (12 months, hourly)',
  'building.heatmapDesc': 'Heat map of the main meter\'s hourly electricity: one column per day, one row per hour of the day; darker means less, brighter more energy.',
  'building.heatmapTable': 'Mean energy per hour of day',
  'building.hourOfDay': 'Hour',
  'building.weekday': 'Weekdays (kWh)',
  'building.weekend': 'Weekends (kWh)',
  'building.mv': 'Measurement & verification',
  'building.mvNone': 'No M&V result for this building yet.',
  'building.mvOff': 'This API process runs no M&V analytics.',
  'building.mvMeter': 'Meter {meter}: {kind} ({type})',
  'building.mvRan': 'Analysed {time}; baseline {bStart} – {bEnd}, reporting {rStart} – {rEnd}',
  'building.avoided': 'Avoided energy',
  'building.avoidedValue': '{value} ± {u} kWh at 90 % ({fraction})',
  'building.fit': 'Fit: adj. R² {r2}, CV(RMSE) {cv}, NMBE {nmbe}, n = {n}',
  'building.g14Pass': 'Meets ASHRAE Guideline 14',
  'building.g14Fail': 'Does not meet ASHRAE Guideline 14',
  'building.warnings': 'Warnings',
  'building.disqualifications': 'Disqualifications',
  'building.override': 'Override by {by}: {reason}',
  'building.actualVsBaseline': 'Actual vs baseline per month, with the 90 % uncertainty band',
  'building.actualVsBaselineDesc': 'Monthly baseline (the counterfactual use without the measure) with its 90 % uncertainty band, and the observed use, in kWh.',
  'building.cumulative': 'Cumulative savings with the 90 % uncertainty band',
  'building.cumulativeDesc': 'Cumulative avoided energy since the start of the reporting period, with its 90 % uncertainty band, in kWh.',
  'building.metersTable': 'Meters and latest readings',
  'building.noData': 'No readings in this period.',
  'status.verified': 'Verified',
  'status.verified_with_override': 'Verified with override',
  'status.not_verified': 'Not verified',
  'series.baseline': 'Baseline',
  'series.observed': 'Observed',
  'series.upper': 'Upper 90 %',
  'series.lower': 'Lower 90 %',
  'series.cumulative': 'Cumulative savings',
  'series.power': 'Power',
  'col.time': 'Time',
  'col.month': 'Month',
  'col.meter': 'Meter',
  'col.role': 'Role',
  'col.endUse': 'End use',
  'col.quantity': 'Quantity',
  'col.latest': 'Latest reading',
  'col.at': 'At',
  'col.building': 'Building',
  'col.site': 'Site',
  'col.coverage': 'Mean coverage',
  'col.lastReading': 'Last reading',
  'col.gaps': 'Gaps',
  'col.from': 'From',
  'col.to': 'To',
  'col.buckets': 'Length',
  'col.received': 'Received',
  'col.source': 'Source',
  'col.code': 'Code',
  'col.reason': 'Reason',
  'col.topic': 'Topic',
  'col.payload': 'Payload',
  'col.type': 'Type',
  'col.value': 'Value',
  'col.previous': 'Previous',
  'col.severity': 'Severity',
  'col.state': 'State',
  'col.title': 'Alert',
  'col.since': 'Since',
  'col.where': 'Where',
  'role.main': 'Main meter',
  'role.sub': 'Sub-meter',
  'role.generation': 'Generation',
  'role.weather': 'Weather',
  'role.other': 'Other',
  'endUse.lighting_sockets': 'Lighting & sockets',
  'endUse.hvac': 'HVAC',
  'endUse.power': 'Power',
  'endUse.special': 'Special',
  'quality.title': 'Data quality',
  'quality.intro': 'Coverage per meter, gaps, register events and rejected messages (dead letters) with their reasons.',
  'quality.site': 'Site',
  'quality.building': 'Building',
  'quality.all': 'All',
  'quality.bucket': 'Resolution',
  'quality.days': 'Days (90)',
  'quality.months': 'Months (12)',
  'quality.coverage': 'Coverage per series',
  'quality.coverageDesc': 'Matrix of coverage: one row per series, one column per {bucket}; dark blue is fully covered, red is no data.',
  'quality.gaps': 'Gaps',
  'quality.noGaps': 'No gaps in this period.',
  'quality.registerEvents': 'Register events (rollovers, resets, replacements, late register readings)',
  'quality.noRegisterEvents': 'No register events.',
  'quality.deadLetters': 'Dead letters',
  'quality.deadLettersTotal': '{total} rejected messages',
  'quality.noDeadLetters': 'No dead letters.',
  'quality.pickBuilding': 'Choose a site and a building to see its register events and dead letters; those of a whole site need an admin key.',
  'quality.codeFilter': 'Code',
  'quality.next': 'Older',
  'quality.prev': 'Newer',
  'quality.page': 'Page {n}',
  'quality.bucket.1d': 'day',
  'quality.bucket.1mo': 'month',
  'quality.empty': 'empty',
  'alerts.title': 'Alerts',
  'alerts.none': 'No alerts.',
  'alerts.noService': 'No alert service: this API process does not serve /api/v1/alerts yet.',
  'alerts.state': 'State',
  'alerts.active': 'Active',
  'alerts.resolved': 'Resolved',
  'alerts.all': 'All',
  'alerts.warning': 'Warning',
  'alerts.critical': 'Critical',
  'hm.less': 'less',
  'hm.more': 'more',
  'hm.hover': 'Point at a cell to read it.',
  'type.office_a': 'Office, class A',
  'type.office_b': 'Office, class B',
  'type.government_office': 'Government office',
  'type.government_office_a': 'Government office, class A',
  'type.government_office_b': 'Government office, class B',
  'type.mall': 'Shopping mall',
  'type.hotel': 'Hotel',
  'type.hospital': 'Hospital',
  'type.school': 'School',
  'type.data_centre': 'Data centre',
  'type.residential_tower': 'Residential tower',
  ...FINANCE_EN,
} as const;

export type MessageKey = keyof typeof en;

const zh: Record<MessageKey, string> = {
  'app.name': 'Wattproof',
  'app.tagline': '经核证的节能量',
  'skip': '跳到主要内容',
  'nav.label': '主导航',
  'nav.portfolio': '资产组合',
  'nav.quality': '数据质量',
  'nav.alerts': '告警',
  'lang.label': '语言',
  'lang.switch': 'English',
  'lang.switchLabel': '切换到英文 (English)',
  'footer.api': 'API',
  'footer.docs': 'API 文档',
  'footer.license': '以 Apache License 2.0 开源',
  'loading': '加载中…',
  'error.load': '无法加载{what}：{message}',
  'retry': '重试',
  'none': '—',
  'notFound.title': '页面不存在',
  'notFound.back': '返回资产组合',
  'live.connected': '实时',
  'live.connecting': '连接中…',
  'live.lost': '实时更新中断，正在重新连接…',
  'csv.download': '下载 CSV',
  'csv.downloadOf': '下载 CSV：{title}',
  'table.show': '数据表',
  'table.firstRows': '显示前 {n} 行，共 {total} 行；CSV 包含全部数据。',
  'portfolio.title': '资产组合',
  'portfolio.intro': '各园区与建筑的实时功率、今日用电、滚动 12 个月能耗强度（对照 GB/T 51161 定额）、告警和数据完整率。',
  'portfolio.empty': '尚无园区。请接入电表（wattproof device add）或启动模拟器。',
  'portfolio.sitePlan': '{site} 平面示意图',
  'portfolio.sitePlanDesc': '示意图：每个方块代表一栋建筑，面积与建筑面积成比例，颜色表示能耗强度状态；建筑没有坐标，因此按网格排列。',
  'portfolio.sitesMap': '园区位置',
  'portfolio.buildings': '{site} 的建筑',
  'portfolio.timezone': '时区 {tz}',
  'portfolio.table': '建筑列表（表格）',
  'kpi.live': '实时功率',
  'kpi.today': '今日用电',
  'kpi.eui': '能耗强度（12 个月）',
  'kpi.quota': '约束值 {constraint} · 引导值 {guide}',
  'kpi.noQuota': '该类型无 GB/T 51161 定额',
  'kpi.annualised': '按 {days} 天数据折算为全年',
  'kpi.alerts': '活动告警',
  'kpi.coverage': '数据完整率（30 天）',
  'kpi.noElectricity': '无总电表',
  'kpi.asOf': '截至 {time}',
  'eui.withinGuide': '优于引导值',
  'eui.withinConstraint': '优于约束值',
  'eui.aboveConstraint': '超过约束值',
  'eui.noQuota': '无定额',
  'unit.kW': 'kW',
  'unit.kWh': 'kWh',
  'unit.euI': 'kWh/(m²·a)',
  'unit.m2': 'm²',
  'building.title': '建筑',
  'building.back': '资产组合',
  'building.type': '类型',
  'building.area': '建筑面积',
  'building.meters': '电表',
  'building.site': '园区',
  'building.liveChart': '总电表实时功率',
  'building.liveChartDesc': '折线图：总电表最近 6 小时每个计量间隔的平均功率（kW），实时更新。',
  'building.endUse': '按用途分项的日用电量（12 个月）',
  'building.endUseDesc': '堆叠面积图：最近 12 个月各分项电表每日用电量（kWh）。',
  'building.mainOnly': '总电表日用电量（12 个月）',
  'building.mainOnlyDesc': '面积图：最近 12 个月总电表每日用电量（kWh）。',
  'building.heatmap': '负荷曲线：时刻 × 日期（12 个月，逐时）',
  'building.heatmapDesc': '热力图：总电表逐时用电量，每列一天，每行一个小时；颜色越深用电越少，越亮越多。',
  'building.heatmapTable': '各时刻平均用电量',
  'building.hourOfDay': '时刻',
  'building.weekday': '工作日（kWh）',
  'building.weekend': '周末（kWh）',
  'building.mv': '测量与验证（M&V）',
  'building.mvNone': '该建筑尚无 M&V 结果。',
  'building.mvOff': '此 API 进程未运行 M&V 分析。',
  'building.mvMeter': '电表 {meter}：{kind}（{type}）',
  'building.mvRan': '分析时间 {time}；基准期 {bStart} – {bEnd}，报告期 {rStart} – {rEnd}',
  'building.avoided': '节能量',
  'building.avoidedValue': '{value} ± {u} kWh（90 % 置信度，{fraction}）',
  'building.fit': '拟合：调整 R² {r2}，CV(RMSE) {cv}，NMBE {nmbe}，n = {n}',
  'building.g14Pass': '满足 ASHRAE Guideline 14',
  'building.g14Fail': '不满足 ASHRAE Guideline 14',
  'building.warnings': '警告',
  'building.disqualifications': '不合格项',
  'building.override': '由 {by} 覆盖：{reason}',
  'building.actualVsBaseline': '每月实际用电与基准（含 90 % 不确定度区间）',
  'building.actualVsBaselineDesc': '每月基准用电（未实施措施时的反事实用电）及其 90 % 不确定度区间，以及实际用电（kWh）。',
  'building.cumulative': '累计节能量（含 90 % 不确定度区间）',
  'building.cumulativeDesc': '报告期开始以来的累计节能量及其 90 % 不确定度区间（kWh）。',
  'building.metersTable': '电表与最新读数',
  'building.noData': '该时段没有读数。',
  'status.verified': '已核证',
  'status.verified_with_override': '已核证（人工覆盖）',
  'status.not_verified': '未核证',
  'series.baseline': '基准',
  'series.observed': '实际',
  'series.upper': '上限 90 %',
  'series.lower': '下限 90 %',
  'series.cumulative': '累计节能量',
  'series.power': '功率',
  'col.time': '时间',
  'col.month': '月份',
  'col.meter': '电表',
  'col.role': '角色',
  'col.endUse': '用途',
  'col.quantity': '计量量',
  'col.latest': '最新读数',
  'col.at': '时间',
  'col.building': '建筑',
  'col.site': '园区',
  'col.coverage': '平均完整率',
  'col.lastReading': '最后读数',
  'col.gaps': '缺口',
  'col.from': '开始',
  'col.to': '结束',
  'col.buckets': '长度',
  'col.received': '接收时间',
  'col.source': '来源',
  'col.code': '代码',
  'col.reason': '原因',
  'col.topic': '主题',
  'col.payload': '消息内容',
  'col.type': '类型',
  'col.value': '值',
  'col.previous': '前值',
  'col.severity': '级别',
  'col.state': '状态',
  'col.title': '告警',
  'col.since': '开始于',
  'col.where': '位置',
  'role.main': '总表',
  'role.sub': '分项表',
  'role.generation': '发电',
  'role.weather': '气象',
  'role.other': '其他',
  'endUse.lighting_sockets': '照明插座',
  'endUse.hvac': '空调',
  'endUse.power': '动力',
  'endUse.special': '特殊用电',
  'quality.title': '数据质量',
  'quality.intro': '各电表的数据完整率、缺口、寄存器事件，以及被拒绝的消息（死信）及其原因。',
  'quality.site': '园区',
  'quality.building': '建筑',
  'quality.all': '全部',
  'quality.bucket': '粒度',
  'quality.days': '按日（90 天）',
  'quality.months': '按月（12 个月）',
  'quality.coverage': '各序列数据完整率',
  'quality.coverageDesc': '完整率矩阵：每行一个序列，每列一{bucket}；深蓝表示完整，红色表示无数据。',
  'quality.gaps': '数据缺口',
  'quality.noGaps': '该时段没有缺口。',
  'quality.registerEvents': '寄存器事件（翻转、复位、换表、迟到的寄存器读数）',
  'quality.noRegisterEvents': '没有寄存器事件。',
  'quality.deadLetters': '死信',
  'quality.deadLettersTotal': '共 {total} 条被拒绝的消息',
  'quality.noDeadLetters': '没有死信。',
  'quality.pickBuilding': '请选择站点和建筑以查看其寄存器事件和死信；整个站点的需要管理员密钥。',
  'quality.codeFilter': '代码',
  'quality.next': '更早',
  'quality.prev': '更新',
  'quality.page': '第 {n} 页',
  'quality.bucket.1d': '天',
  'quality.bucket.1mo': '个月',
  'quality.empty': '无数据',
  'alerts.title': '告警',
  'alerts.none': '没有告警。',
  'alerts.noService': '无告警服务：此 API 进程尚未提供 /api/v1/alerts。',
  'alerts.state': '状态',
  'alerts.active': '活动',
  'alerts.resolved': '已解除',
  'alerts.all': '全部',
  'alerts.warning': '警告',
  'alerts.critical': '严重',
  'hm.less': '少',
  'hm.more': '多',
  'hm.hover': '将指针移到单元格上查看数值。',
  'type.office_a': 'A 类商业办公',
  'type.office_b': 'B 类商业办公',
  'type.government_office': '政府办公',
  'type.government_office_a': 'A 类政府办公',
  'type.government_office_b': 'B 类政府办公',
  'type.mall': '商场',
  'type.hotel': '酒店',
  'type.hospital': '医院',
  'type.school': '学校',
  'type.data_centre': '数据中心',
  'type.residential_tower': '住宅楼',
  ...FINANCE_ZH,
};

const TABLES: Record<Lang, Record<MessageKey, string>> = { 'zh-CN': zh, en };

/** Formatting and messages of one language. */
export interface I18n {
  readonly lang: Lang;
  setLang(lang: Lang): void;
  t(key: MessageKey, params?: Record<string, string | number>): string;
  /** A number with at most `digits` fraction digits (grouped). */
  num(value: number | null | undefined, digits?: number): string;
  pct(ratio: number | null | undefined, digits?: number): string;
  /** Date and time in `timeZone`. */
  dateTime(ms: number, timeZone: string): string;
  date(ms: number, timeZone: string): string;
  time(ms: number, timeZone: string): string;
  /** A local month `YYYY-MM` as words. */
  month(period: string): string;
  /** A label for a raw enum value when the table has one, else the value. */
  label(prefix: 'role' | 'endUse' | 'status' | 'type' | 'apiRole' | 'covenant.status' | 'period.state' | 'label.rank' | 'kpi' | 'loanKind', value: string | null | undefined): string;
}

/** The stored or browser-preferred language; zh-CN unless English was chosen. */
export function initialLang(): Lang {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    if (stored === 'en' || stored === 'zh-CN') return stored;
  } catch {
    // Storage may be unavailable (private mode); the default stands.
  }
  return 'zh-CN';
}

function makeI18n(lang: Lang, setLang: (l: Lang) => void): I18n {
  const table = TABLES[lang];
  const nums = new Map<number, Intl.NumberFormat>();
  const numFmt = (d: number) => {
    let f = nums.get(d);
    if (!f) nums.set(d, (f = new Intl.NumberFormat(lang, { maximumFractionDigits: d })));
    return f;
  };
  const dts = new Map<string, Intl.DateTimeFormat>();
  const dtFmt = (tz: string, kind: 'dt' | 'd' | 't') => {
    const key = `${tz}|${kind}`;
    let f = dts.get(key);
    if (!f) {
      const opts: Intl.DateTimeFormatOptions = kind === 'dt' ? { dateStyle: 'medium', timeStyle: 'short' } : kind === 'd' ? { dateStyle: 'medium' } : { timeStyle: 'short' };
      dts.set(key, (f = new Intl.DateTimeFormat(lang, { ...opts, timeZone: tz })));
    }
    return f;
  };
  const monthFmt = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'short', timeZone: 'UTC' });
  return {
    lang,
    setLang,
    t(key, params) {
      const text = table[key] ?? key;
      return params ? text.replace(/\{(\w+)\}/g, (_, k: string) => String(params[k] ?? `{${k}}`)) : text;
    },
    num: (v, d = 1) => (v === null || v === undefined || !Number.isFinite(v) ? table['none'] : numFmt(d).format(v)),
    pct: (v, d = 0) => (v === null || v === undefined || !Number.isFinite(v) ? table['none'] : new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: d }).format(v)),
    dateTime: (ms, tz) => dtFmt(tz, 'dt').format(ms),
    date: (ms, tz) => dtFmt(tz, 'd').format(ms),
    time: (ms, tz) => dtFmt(tz, 't').format(ms),
    month(period) {
      const [y, m] = period.split('-').map(Number);
      return y && m ? monthFmt.format(Date.UTC(y, m - 1, 1)) : period;
    },
    label(prefix, value) {
      if (!value) return table['none'];
      const key = `${prefix}.${value}` as MessageKey;
      return key in table ? table[key] : value;
    },
  };
}

const I18nContext = createContext<I18n>(makeI18n('zh-CN', () => undefined));

/** Provides the language to the tree; switching re-renders it and sets `<html lang>`. */
export function I18nProvider(props: { children: ComponentChildren }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const value = useMemo(() => {
    document.documentElement.lang = lang;
    return makeI18n(lang, (l) => {
      try {
        localStorage.setItem(STORAGE_KEY, l);
      } catch {
        // Not persisted; the switch still applies to this page.
      }
      setLangState(l);
    });
  }, [lang]);
  return <I18nContext.Provider value={value}>{props.children}</I18nContext.Provider>;
}

export const useI18n = (): I18n => useContext(I18nContext);
