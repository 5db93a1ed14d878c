/**
 * A heat map on one canvas (never one DOM node per cell): rows × columns of coloured cells, row
 * labels on the left, column ticks below, a readout of the cell under the pointer.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

export interface MatrixProps {
  readonly rows: number;
  readonly cols: number;
  /** Colour of a cell, or null for none. */
  readonly color: (row: number, col: number) => string | null;
  readonly rowLabel: (row: number) => string;
  readonly colTicks: ReadonlyArray<{ readonly col: number; readonly label: string }>;
  readonly readout: (row: number, col: number) => string;
  readonly hint: string;
  readonly cellHeight?: number;
  readonly labelWidth?: number;
  /** Redraw when this changes. */
  readonly version: string;
}

const BOTTOM = 22;

export function Matrix(props: MatrixProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [width, setWidth] = useState(0);
  const [text, setText] = useState(props.hint);
  const cellH = props.cellHeight ?? 10;
  const labelW = props.labelWidth ?? 40;
  const height = props.rows * cellH + BOTTOM;

  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    setWidth(el.clientWidth);
    const ro = new ResizeObserver(() => setWidth(el.clientWidth));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const c = canvas.current;
    if (!c || width <= 0) return;
    const dpr = window.devicePixelRatio || 1;
    c.width = Math.round(width * dpr);
    c.height = Math.round(height * dpr);
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const plotW = width - labelW;
    const cw = plotW / Math.max(1, props.cols);
    for (let col = 0; col < props.cols; col++) {
      const x = labelW + col * cw;
      for (let row = 0; row < props.rows; row++) {
        const fill = props.color(row, col);
        if (!fill) continue;
        ctx.fillStyle = fill;
        // Overlap by a hair so no seams show between fractional cells.
        ctx.fillRect(x, row * cellH, cw + 0.5, cellH + 0.5);
      }
    }
    ctx.fillStyle = '#1f2937';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    ctx.textAlign = 'right';
    for (let row = 0; row < props.rows; row++) {
      const label = props.rowLabel(row);
      if (label) ctx.fillText(label, labelW - 4, row * cellH + cellH / 2, labelW - 6);
    }
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    let lastEnd = -Infinity;
    for (const tick of props.colTicks) {
      const x = labelW + tick.col * cw;
      const w = ctx.measureText(tick.label).width;
      if (x < lastEnd + 6 || x + w > width) continue;
      ctx.fillRect(x, props.rows * cellH, 1, 4);
      ctx.fillText(tick.label, x + 2, props.rows * cellH + 6);
      lastEnd = x + w;
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [width, props.version, props.rows, props.cols]);

  const onMove = (e: MouseEvent) => {
    const c = canvas.current;
    if (!c) return;
    const rect = c.getBoundingClientRect();
    const x = e.clientX - rect.left - labelW;
    const y = e.clientY - rect.top;
    const col = Math.floor((x / (rect.width - labelW)) * props.cols);
    const row = Math.floor(y / cellH);
    if (col >= 0 && col < props.cols && row >= 0 && row < props.rows) setText(props.readout(row, col));
  };

  return (
    <div ref={wrap} class="matrix">
      <canvas ref={canvas} style={{ width: `${width}px`, height: `${height}px` }} onMouseMove={onMove} onMouseLeave={() => setText(props.hint)} />
      <p class="readout" aria-hidden="true">
        {text}
      </p>
    </div>
  );
}

const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

/** Viridis (perceptually uniform, readable with colour-vision deficiencies) at t in 0..1. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i]!;
  const b = VIRIDIS[i + 1]!;
  const ch = (k: number) => Math.round(parseInt(a.slice(k, k + 2), 16) * (1 - f) + parseInt(b.slice(k, k + 2), 16) * f);
  return `rgb(${ch(1)},${ch(3)},${ch(5)})`;
}

/** Legend of a sequential scale: "less ▮▮▮ more" with the range's ends. */
export function ScaleLegend(props: { less: string; more: string; min: string; max: string }) {
  return (
    <div class="scale-legend" aria-hidden="true">
      <span>
        {props.less} {props.min}
      </span>
      <span class="scale-bar" style={{ background: `linear-gradient(to right, ${VIRIDIS.join(',')})` }} />
      <span>
        {props.max} {props.more}
      </span>
    </div>
  );
}
