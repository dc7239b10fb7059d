// @ts-check
// One renderer per Grafana panel type the dashboards use: time series and their sparkline-free cousins on uPlot, the
// stat's big value and the state timeline as plain elements (a handful of runs, and tests can read them).
import uPlot from 'uplot';
import { colorOf, formatValue, lastNotNull, mapValue, palette, stateRuns, thresholdColor } from './model.js';

/**
 * @typedef {import('./model.js').Series} Series
 * @typedef {{ start: number, end: number, step: number }} Range
 * @typedef {{ times: number[], series: Series[], range: Range }} Frame
 * @typedef {{ from: number, to: number, title: string, text: string }} Band
 * @typedef {{ draw(frame: Frame, bands: Band[]): void, destroy(): void }} Renderer
 * @typedef {{ type: string, title?: string, fieldConfig?: { defaults?: any, overrides?: any[] }, options?: any }} Panel
 */

/** Threshold styles a time series can draw; another fails the unit tests. */
export const thresholdStyles = ['off', 'line', 'dashed'];

/** @param {string} color @param {number} opacity 0–100 */
const withAlpha = (color, opacity) => {
  const hex = colorOf(color);
  return /^#[0-9a-f]{6}$/i.test(hex) ? `${hex}${Math.round((opacity / 100) * 255).toString(16).padStart(2, '0')}` : hex;
};

/** @param {number} t */
const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });

/** @param {string} tag @param {string} [className] @param {string} [text] */
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Fault bands over a plot area whose x runs from `from` to `to` seconds, each labelled with its fault. @param {HTMLElement} layer @param {Band[]} bands @param {(t: number) => number} x px */
function placeBands(layer, bands, x) {
  const width = layer.clientWidth;
  layer.replaceChildren(
    ...bands.map((b, i) => {
      const band = el('div', 'fault-band');
      const left = x(b.from);
      band.style.left = `${left}px`;
      band.style.width = `${Math.max(x(b.to) - left, 2)}px`;
      band.title = `${b.title}\n${b.text}\n${clock(b.from)} – ${clock(b.to)}`;
      // Near the right edge the name reads leftwards, so that it stays in view.
      const label = el('span', left > width * 0.6 ? 'leftwards' : '', b.title);
      label.style.top = `${(i % 4) * 12}px`; // faults at the same time: their names one under another
      band.append(label);
      return band;
    }),
  );
}

/** Series colours and styles as Grafana resolves them: the palette by position, then overrides by display name. @param {Panel} panel @param {Series} s @param {number} i */
function seriesStyle(panel, s, i) {
  const custom = panel.fieldConfig?.defaults?.custom ?? {};
  const style = { color: /** @type {string} */ (palette[i % palette.length]), fillOpacity: custom.fillOpacity ?? 0, dash: /** @type {number[] | undefined} */ (undefined) };
  for (const o of panel.fieldConfig?.overrides ?? []) {
    if (o.matcher?.id !== 'byName' || o.matcher.options !== s.label) continue;
    for (const p of o.properties ?? []) {
      if (p.id === 'color') style.color = colorOf(p.value?.fixedColor);
      if (p.id === 'custom.fillOpacity') style.fillOpacity = p.value;
      if (p.id === 'custom.lineStyle' && p.value?.fill === 'dash') style.dash = p.value.dash;
    }
  }
  return style;
}

/** Axis ticks as Grafana writes them: hours and minutes, and seconds when ticks are less than a minute apart. @param {number[]} splits */
const timeTicks = (splits) => {
  const fine = splits.length > 1 && /** @type {number} */ (splits[1]) - /** @type {number} */ (splits[0]) < 60;
  return splits.map((t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false, hour: '2-digit', minute: '2-digit', ...(fine ? { second: '2-digit' } : {}) }));
};

/** @param {HTMLElement} body @param {Panel} panel @returns {Renderer} */
function timeseries(body, panel) {
  const defaults = panel.fieldConfig?.defaults ?? {};
  const custom = defaults.custom ?? {};
  const format = (/** @type {number | null} */ v) => formatValue(defaults.unit, v, defaults.decimals ?? undefined);
  const stepped = custom.lineInterpolation === 'stepAfter' ? uPlot.paths.stepped?.({ align: 1 }) : undefined;
  const thresholdMode = custom.thresholdsStyle?.mode ?? 'off';
  const area = el('div', 'plot');
  const legend = el('div', 'legend');
  const tooltip = el('div', 'tooltip');
  tooltip.hidden = true;
  body.append(area, legend, tooltip);
  /** @type {uPlot | undefined} */
  let plot;
  let shape = '';
  /** @type {Band[]} */
  let bands = [];
  /** @type {Array<{ label: string, color: string, fillOpacity: number, dash?: number[] }>} */
  let styles = [];
  const layer = el('div', 'bands');

  /** Dashed (or solid) lines at each threshold, as Grafana's thresholdsStyle draws them. @param {uPlot} u */
  const drawThresholds = (u) => {
    if (thresholdMode === 'off') return;
    const ctx = u.ctx;
    ctx.save();
    ctx.lineWidth = 1;
    ctx.setLineDash(thresholdMode === 'dashed' ? [10, 10] : []);
    for (const step of defaults.thresholds?.steps ?? []) {
      if (step.value === null) continue;
      const y = u.valToPos(step.value, 'y', true);
      if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
      ctx.strokeStyle = colorOf(step.color);
      ctx.beginPath();
      ctx.moveTo(u.bbox.left, y);
      ctx.lineTo(u.bbox.left + u.bbox.width, y);
      ctx.stroke();
    }
    ctx.restore();
  };

  /** Grafana's multi tooltip, sorted by value, highest first. @param {uPlot} u */
  const showTooltip = (u) => {
    const i = u.cursor.idx;
    if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) return void (tooltip.hidden = true);
    const rows = styles
      .map((s, k) => ({ ...s, value: /** @type {number | null | undefined} */ (u.data[k + 1]?.[i]) }))
      .filter((r) => r.value !== null && r.value !== undefined)
      .sort((a, b) => Number(b.value) - Number(a.value));
    tooltip.replaceChildren(el('div', 'time', clock(/** @type {number} */ (u.data[0][i]))));
    for (const r of rows) {
      const line = el('div');
      const swatch = el('span', 'swatch');
      swatch.style.background = r.color;
      line.append(swatch, `${r.label}: `, el('b', '', format(r.value ?? null)));
      tooltip.append(line);
    }
    tooltip.hidden = rows.length === 0;
    tooltip.style.left = `${Math.min(u.cursor.left + u.bbox.left / devicePixelRatio + 12, body.clientWidth - tooltip.offsetWidth - 4)}px`;
    tooltip.style.top = `${(u.cursor.top ?? 0) + 8}px`;
  };

  const size = () => ({ width: area.clientWidth, height: Math.max(area.clientHeight, 40) });

  /** @param {Frame} frame */
  const create = (frame) => {
    styles = frame.series.map((s, i) => ({ label: s.label, ...seriesStyle(panel, s, i) }));
    legend.replaceChildren(
      ...styles.map((s) => {
        const item = el('span', 'item');
        const swatch = el('span', 'swatch');
        swatch.style.background = s.color;
        item.append(swatch, s.label);
        return item;
      }),
    );
    /** @type {uPlot.Options} */
    const options = {
      ...size(),
      // No drag-to-zoom: the next refresh would undo it.
      cursor: { sync: { key: 'faultline' }, points: { show: false }, drag: { x: false, y: false } },
      legend: { show: false },
      scales: {
        y: {
          range: (_u, min, max) => {
            const lo = defaults.min ?? (min >= 0 ? 0 : min);
            const hi = defaults.max ?? (max > lo ? max + (max - lo) * 0.05 : lo + 1);
            return [lo, hi];
          },
        },
      },
      axes: [
        { stroke: '#8e8e9e', grid: { stroke: '#2c323580' }, ticks: { show: false }, values: (_u, splits) => timeTicks(splits) },
        { stroke: '#8e8e9e', grid: { stroke: '#2c323580' }, ticks: { show: false }, size: 70, values: (_u, splits) => splits.map(format) },
      ],
      series: [
        {},
        ...styles.map((style) => ({
          label: style.label,
          stroke: style.color,
          width: custom.lineWidth ?? 1,
          fill: style.fillOpacity > 0 ? withAlpha(style.color, style.fillOpacity) : undefined,
          ...(style.dash ? { dash: style.dash } : {}),
          ...(stepped ? { paths: stepped } : {}),
          spanGaps: custom.spanNulls === true,
          points: { show: custom.showPoints === 'always' },
        })),
      ],
      hooks: { draw: [drawThresholds, (u) => placeBands(layer, bands, (t) => u.valToPos(t, 'x'))], setCursor: [showTooltip] },
    };
    plot = new uPlot(options, [frame.times, ...frame.series.map((s) => s.values)], area);
    plot.over.append(layer);
    plot.over.addEventListener('mouseleave', () => (tooltip.hidden = true));
  };

  const observer = new ResizeObserver(() => plot?.setSize(size()));
  observer.observe(area);
  return {
    draw(frame, newBands) {
      bands = newBands;
      const next = frame.series.map((s) => s.label).join('\n');
      if (!plot || next !== shape) {
        plot?.destroy();
        shape = next;
        create(frame);
      } else plot.setData([frame.times, ...frame.series.map((s) => s.values)]);
    },
    destroy() {
      observer.disconnect();
      plot?.destroy();
    },
  };
}

/** @param {HTMLElement} body @param {Panel} panel @returns {Renderer} */
function stat(body, panel) {
  const defaults = panel.fieldConfig?.defaults ?? {};
  const box = el('div', 'stat');
  body.append(box);
  return {
    draw(frame) {
      const s = frame.series[0];
      const value = s ? lastNotNull(s.values) : null;
      const mapped = mapValue(defaults.mappings, value);
      const text = value === null ? (defaults.noValue ?? 'No data') : (mapped?.text ?? formatValue(defaults.unit, value, defaults.decimals ?? undefined));
      const color = mapped?.color ?? thresholdColor(defaults.thresholds, value ?? Number.NEGATIVE_INFINITY);
      box.style.background = panel.options?.colorMode === 'background' ? color : '';
      box.style.color = panel.options?.colorMode === 'value' ? color : '';
      /** @type {Element[]} */
      const children = [el('span', 'value', text)];
      if (s && panel.options?.graphMode === 'area') children.unshift(sparkline(s.values));
      box.replaceChildren(...children);
    },
    destroy() {},
  };
}

/** The stat's area graph: the series behind the big value, faint. @param {Array<number | null>} values */
function sparkline(values) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  const points = values.map((v, i) => [i, v]).filter(([, v]) => v !== null);
  const max = Math.max(...points.map(([, v]) => Number(v)), 1e-9);
  const min = Math.min(...points.map(([, v]) => Number(v)), 0);
  const n = Math.max(values.length - 1, 1);
  svg.setAttribute('viewBox', '0 0 100 100');
  svg.setAttribute('preserveAspectRatio', 'none');
  const line = points.map(([i, v]) => `${((Number(i) / n) * 100).toFixed(2)},${(100 - ((Number(v) - min) / (max - min || 1)) * 100).toFixed(2)}`).join(' ');
  if (points.length > 1) {
    const area = document.createElementNS('http://www.w3.org/2000/svg', 'polygon');
    area.setAttribute('points', `${((Number(points[0]?.[0]) / n) * 100).toFixed(2)},100 ${line} ${((Number(points.at(-1)?.[0]) / n) * 100).toFixed(2)},100`);
    area.setAttribute('fill', 'rgba(255,255,255,0.18)');
    svg.append(area);
  }
  return svg;
}

/** @param {HTMLElement} body @param {Panel} panel @returns {Renderer} */
function stateTimeline(body, panel) {
  const defaults = panel.fieldConfig?.defaults ?? {};
  const opacity = (panel.options?.fillOpacity ?? 70) / 100;
  const box = el('div', 'timeline');
  body.append(box);
  return {
    draw(frame, bands) {
      const { start, end, step } = frame.range;
      const span = end + step - start;
      const pct = (/** @type {number} */ t) => `${(((t - start) / span) * 100).toFixed(3)}%`;
      const rows = el('div', 'rows');
      for (const s of frame.series) {
        const row = el('div', 'tl-row');
        row.dataset.series = s.label;
        const track = el('div', 'tl-track');
        for (const run of panel.options?.mergeValues === false ? stateRuns(frame.times, s.values, step).flatMap(splitRun(step)) : stateRuns(frame.times, s.values, step)) {
          const mapped = mapValue(defaults.mappings, run.value);
          const text = mapped?.text ?? formatValue(defaults.unit, run.value, defaults.decimals ?? undefined);
          const seg = el('div', 'tl-seg', panel.options?.showValue === 'never' ? '' : text);
          seg.style.left = pct(run.from);
          seg.style.width = `${(((run.to - run.from) / span) * 100).toFixed(3)}%`;
          seg.style.background = mapped?.color ?? thresholdColor(defaults.thresholds, run.value);
          seg.style.opacity = String(opacity);
          seg.dataset.state = text;
          seg.title = `${s.label}: ${text}, ${clock(run.from)} – ${clock(run.to)}`;
          track.append(seg);
        }
        row.append(el('div', 'tl-label', s.label), track);
        rows.append(row);
      }
      const layer = el('div', 'bands');
      rows.append(layer);
      const axis = el('div', 'axis');
      for (let i = 0; i <= 4; i++) axis.append(el('span', '', clock(start + (span * i) / 4)));
      const legend = el('div', 'legend');
      for (const option of Object.values(defaults.mappings?.[0]?.options ?? {})) {
        const item = el('span');
        const swatch = el('span', 'swatch');
        swatch.style.background = colorOf(option.color);
        item.append(swatch, option.text ?? '');
        legend.append(item);
      }
      box.replaceChildren(rows, axis, legend);
      const width = layer.clientWidth;
      placeBands(layer, bands, (t) => ((t - start) / span) * width);
    },
    destroy() {},
  };
}

/** With mergeValues off, every point is its own box. @param {number} step */
const splitRun = (step) => (/** @type {{ from: number, to: number, value: number }} */ run) =>
  Array.from({ length: Math.round((run.to - run.from) / step) }, (_v, i) => ({ from: run.from + i * step, to: run.from + (i + 1) * step, value: run.value }));

/** Every panel type the page draws, rows aside: a dashboard with another type fails the unit tests. @type {Record<string, (body: HTMLElement, panel: Panel) => Renderer>} */
export const renderers = { timeseries, stat, 'state-timeline': stateTimeline };
