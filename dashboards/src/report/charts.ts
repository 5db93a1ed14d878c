/**
 * Charts of the monthly report as inline SVG, rendered server-side by Apache ECharts (SSR mode:
 * no DOM, no browser). Only the chart types and components used here are registered.
 */
import * as echarts from 'echarts/core';
import { BarChart, LineChart } from 'echarts/charts';
import { GridComponent, LegendComponent, MarkLineComponent } from 'echarts/components';
import { SVGRenderer } from 'echarts/renderers';
import type { MonthlyReport } from './model.js';
import { autoDigits, formatNumber } from './format.js';
import { label, message, type ReportLang } from './messages.js';

echarts.use([BarChart, LineChart, GridComponent, LegendComponent, MarkLineComponent, SVGRenderer]);

/** Width of a chart in CSS px: the A4 text column (210 mm − 2 × 16 mm) at 96 px/in. */
export const CHART_WIDTH = 672;
export const FONT_FAMILY = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "Liberation Sans", Arial, sans-serif';

/** Colours of the report (print-safe, distinguishable in greyscale by lightness). */
export const PALETTE = {
  ink: '#1b2a3a',
  muted: '#6b7785',
  grid: '#e3e7ec',
  main: '#1f4e79',
  endUses: ['#2e86ab', '#f2a541', '#6a994e', '#b56576', '#8d99ae', '#c9ada7'],
  workdays: '#1f4e79',
  weekends: '#e07a5f',
  constraint: '#c0392b',
  guide: '#27ae60',
  band: '#9ecae1',
} as const;

/** Renders one ECharts option as an SVG string (SSR, report fonts and colours, no animation); also used by the report packs. */
export function render(option: Record<string, unknown>, height: number, width = CHART_WIDTH): string {
  const chart = echarts.init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption({ animation: false, textStyle: { fontFamily: FONT_FAMILY, color: PALETTE.ink, fontSize: 11 }, ...option });
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

const axisCommon = {
  axisLine: { lineStyle: { color: PALETTE.muted } },
  axisTick: { lineStyle: { color: PALETTE.muted } },
  axisLabel: { color: PALETTE.muted, fontSize: 10 },
  splitLine: { lineStyle: { color: PALETTE.grid } },
};

const legend = { top: 0, right: 0, itemWidth: 12, itemHeight: 8, textStyle: { fontSize: 10, color: PALETTE.ink } };

function valueAxis(lang: ReportLang, name: string) {
  return {
    type: 'value',
    name,
    nameTextStyle: { color: PALETTE.muted, fontSize: 10, align: 'left' },
    ...axisCommon,
    axisLabel: { ...axisCommon.axisLabel, formatter: (v: number) => formatNumber(lang, v, autoDigits(v, 1)) },
  };
}

/** Daily electricity: end-use sub-meters stacked, the main meters as a line. */
export function dailyEnergyChart(model: MonthlyReport): string | null {
  const { lang } = model;
  const d = model.daily;
  const hasMain = d.main.some((v) => v !== null);
  if (!hasMain && d.endUses.every((e) => e.values.every((v) => v === null))) return null;
  const days = d.days.map((x) => String(Number(x.slice(8))));
  const series: Array<Record<string, unknown>> = d.endUses.map((e, i) => ({
    type: 'bar',
    name: label(lang, 'endUse', e.endUse),
    stack: 'endUse',
    data: e.values,
    barCategoryGap: '25%',
    itemStyle: { color: PALETTE.endUses[i % PALETTE.endUses.length] },
  }));
  if (hasMain) {
    series.push(
      d.endUses.length
        ? { type: 'line', name: message(lang, 'mainMeterLine'), data: d.main, symbol: 'circle', symbolSize: 3, lineStyle: { color: PALETTE.main, width: 1.5 }, itemStyle: { color: PALETTE.main } }
        : { type: 'bar', name: message(lang, 'mainMeterLine'), data: d.main, barCategoryGap: '25%', itemStyle: { color: PALETTE.main } },
    );
  }
  return render(
    {
      legend,
      grid: { left: 56, right: 12, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: days, ...axisCommon, splitLine: { show: false } },
      yAxis: valueAxis(lang, 'kWh'),
      series,
    },
    250,
  );
}

/** Average load profile by local hour: workdays and weekends. */
export function loadProfileChart(model: MonthlyReport): string | null {
  const { lang } = model;
  const p = model.profile;
  if (p.workdays.every((v) => v === null) && p.weekends.every((v) => v === null)) return null;
  const hours = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}:00`);
  return render(
    {
      legend,
      grid: { left: 56, right: 12, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: hours, boundaryGap: false, ...axisCommon, axisLabel: { ...axisCommon.axisLabel, interval: 2 }, splitLine: { show: false } },
      yAxis: valueAxis(lang, 'kW'),
      series: [
        { type: 'line', name: message(lang, 'workdays'), data: p.workdays, smooth: false, symbol: 'none', lineStyle: { color: PALETTE.workdays, width: 2 }, itemStyle: { color: PALETTE.workdays }, areaStyle: { color: PALETTE.workdays, opacity: 0.08 } },
        { type: 'line', name: message(lang, 'weekends'), data: p.weekends, smooth: false, symbol: 'none', lineStyle: { color: PALETTE.weekends, width: 2, type: 'dashed' }, itemStyle: { color: PALETTE.weekends } },
      ],
    },
    220,
  );
}

/** Monthly intensity bars and the rolling 12-month EUI line against the GB/T 51161 quota. */
export function euiChart(model: MonthlyReport): string | null {
  const { lang } = model;
  const e = model.eui;
  if (e.trend.every((t) => t.intensity === null && t.rolling === null)) return null;
  const short = new Intl.DateTimeFormat(lang, { timeZone: 'UTC', month: 'short' });
  const months = e.trend.map((t) => short.format(new Date(`${t.month}-15T12:00:00Z`)));
  const marks: Array<Record<string, unknown>> = [];
  if (e.quota) {
    marks.push(
      { yAxis: e.quota.constraint.value, name: message(lang, 'quotaConstraint'), lineStyle: { color: PALETTE.constraint, type: 'dashed', width: 1.5 }, label: { formatter: `${message(lang, 'quotaConstraint')} ${formatNumber(lang, e.quota.constraint.value, 0)}`, color: PALETTE.constraint, fontSize: 10, position: 'insideEndTop' } },
      { yAxis: e.quota.guide.value, name: message(lang, 'quotaGuide'), lineStyle: { color: PALETTE.guide, type: 'dashed', width: 1.5 }, label: { formatter: `${message(lang, 'quotaGuide')} ${formatNumber(lang, e.quota.guide.value, 0)}`, color: PALETTE.guide, fontSize: 10, position: 'insideEndBottom' } },
    );
  }
  const rollingMax = Math.max(0, ...e.trend.map((t) => t.rolling?.value ?? 0), e.quota?.constraint.value ?? 0);
  return render(
    {
      legend,
      grid: { left: 56, right: 56, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: months, ...axisCommon, axisLabel: { ...axisCommon.axisLabel, interval: 0 }, splitLine: { show: false } },
      yAxis: [
        { ...valueAxis(lang, 'kWh/m²'), splitLine: { show: false } },
        { ...valueAxis(lang, ''), max: Math.ceil((rollingMax * 1.1) / 10) * 10 || undefined },
      ],
      series: [
        { type: 'bar', name: label(lang, 'quantity', 'electricity') + ' kWh/m²', data: e.trend.map((t) => t.intensity?.value ?? null), itemStyle: { color: PALETTE.band }, barCategoryGap: '35%' },
        {
          type: 'line',
          name: `${message(lang, 'eui')}, kWh/(m²·a)`,
          yAxisIndex: 1,
          data: e.trend.map((t) => t.rolling?.value ?? null),
          symbol: 'circle',
          symbolSize: 5,
          lineStyle: { color: PALETTE.main, width: 2 },
          itemStyle: { color: PALETTE.main },
          ...(marks.length ? { markLine: { symbol: 'none', silent: true, data: marks } } : {}),
        },
      ],
    },
    240,
  );
}

/** Cumulative avoided energy of one M&V result with its 90 % band (stacked band trick: lower + width). */
export function savingsChart(model: MonthlyReport, index: number): string | null {
  const { lang } = model;
  const s = model.savings[index];
  if (!s || s.cumulativeSeries.length === 0) return null;
  const months = s.cumulativeSeries.map((p) => p.period.slice(2).replace('-', '/'));
  const lower = s.cumulativeSeries.map((p) => (p.band90 === null ? null : p.avoided - p.band90));
  const width = s.cumulativeSeries.map((p) => (p.band90 === null ? null : 2 * p.band90));
  return render(
    {
      legend: { ...legend, data: [message(lang, 'cumulativeAvoided'), message(lang, 'band90').replace(/\s*±\s*/, '').trim() || '90 %'] },
      grid: { left: 64, right: 12, top: 36, bottom: 24 },
      xAxis: { type: 'category', data: months, boundaryGap: false, ...axisCommon, splitLine: { show: false } },
      yAxis: valueAxis(lang, s.unit),
      series: [
        { type: 'line', name: 'lower', data: lower, stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, silent: true },
        { type: 'line', name: message(lang, 'band90').replace(/\s*±\s*/, '').trim() || '90 %', data: width, stack: 'band', stackStrategy: 'all', symbol: 'none', lineStyle: { opacity: 0 }, areaStyle: { color: PALETTE.band, opacity: 0.6 }, itemStyle: { color: PALETTE.band } },
        { type: 'line', name: message(lang, 'cumulativeAvoided'), data: s.cumulativeSeries.map((p) => p.avoided), symbol: 'circle', symbolSize: 4, lineStyle: { color: PALETTE.main, width: 2 }, itemStyle: { color: PALETTE.main } },
      ],
    },
    220,
  );
}
