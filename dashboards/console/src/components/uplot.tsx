/** uPlot in a Preact component: created once per option set, fed new data in place, sized to its container. */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { I18n } from '../i18n.js';

const DAY_MS = 86_400_000;

export interface UPlotProps {
  /** Options without size; a new `optionsKey` rebuilds the chart (language, series set). */
  readonly options: () => Omit<uPlot.Options, 'width' | 'height'>;
  readonly optionsKey: string;
  readonly data: uPlot.AlignedData;
  readonly height?: number;
}

export function UPlot(props: UPlotProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const height = props.height ?? 260;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const u = new uPlot({ ...props.options(), width: Math.max(280, el.clientWidth), height }, props.data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(280, el.clientWidth);
      if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // The options factory is rebuilt every render; optionsKey says when it really changed.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [props.optionsKey, height]);

  useEffect(() => {
    plot.current?.setData(props.data);
  }, [props.data]);

  return <div ref={box} class="uplot-box" />;
}

/** A time x axis whose labels are dates or times in the site's zone and the console's language. */
export function timeAxis(i18n: I18n, timeZone: string): uPlot.Axis {
  return {
    stroke: '#374151',
    grid: { stroke: '#e5e7eb' },
    ticks: { stroke: '#d1d5db' },
    values: (_u, splits, _ai, _space, incr) => splits.map((v) => (incr >= DAY_MS ? i18n.date(v, timeZone) : i18n.time(v, timeZone))),
    space: 90,
  };
}

/** A month x axis (x = epoch ms of the 1st of the month, UTC). */
export function monthAxis(i18n: I18n): uPlot.Axis {
  return {
    stroke: '#374151',
    grid: { stroke: '#e5e7eb' },
    ticks: { stroke: '#d1d5db' },
    values: (_u, splits) => splits.map((v) => {
      const d = new Date(v);
      return i18n.month(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`);
    }),
    space: 70,
  };
}

/** A value y axis with its unit. */
export function valueAxis(i18n: I18n, unit: string): uPlot.Axis {
  return {
    stroke: '#374151',
    grid: { stroke: '#e5e7eb' },
    ticks: { stroke: '#d1d5db' },
    label: unit,
    labelSize: 18,
    size: 64,
    values: (_u, splits) => splits.map((v) => i18n.num(v, 1)),
  };
}

export function tzDate(timeZone: string): (ts: number) => Date {
  return (ts) => uPlot.tzDate(new Date(ts), timeZone);
}

/** Colours with at least 3:1 contrast on white (WCAG 1.4.11), told apart without hue too by order and legend. */
export const PALETTE = ['#1d4ed8', '#c2410c', '#047857', '#7e22ce', '#a16207', '#be123c', '#0e7490', '#4d7c0f'];
export const END_USE_COLORS: Record<string, string> = { lighting_sockets: '#a16207', hvac: '#1d4ed8', power: '#047857', special: '#7e22ce' };
