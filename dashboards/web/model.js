// @ts-check
// What a Grafana dashboard's JSON means, for the live page: intervals, variables, legends, units, thresholds, value
// mappings, series on a common time grid and fault bands. No DOM here, so that unit tests run it in Node.

/** Field override properties the page applies; any other fails the unit tests. */
export const overrideProperties = ['color', 'custom.lineStyle', 'custom.fillOpacity'];

/** Grafana's classic palette, in Grafana's order: series get the same colours as in Grafana. */
export const palette = ['#7EB26D', '#EAB839', '#6ED0E0', '#EF843C', '#E24D42', '#1F78C1', '#BA43A9', '#705DA0', '#508642', '#CCA300', '#447EBC', '#C15C17', '#890F02', '#0A437C', '#6D1F62', '#584477'];

/** Grafana's named colours, as its dark theme draws them. */
const namedColors = /** @type {Record<string, string>} */ ({
  green: '#73BF69',
  'dark-green': '#37872D',
  yellow: '#FADE2A',
  orange: '#FF9830',
  red: '#F2495C',
  'dark-red': '#C4162A',
  blue: '#5794F2',
  purple: '#B877D9',
  text: '#CCCCDC',
});
/** @param {string | undefined} name */
export const colorOf = (name) => (name ? (namedColors[name] ?? name) : namedColors.text);

/** Steps Grafana rounds an interval to, in seconds. */
const niceIntervals = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 21_600, 43_200, 86_400];

/**
 * Grafana's $__interval and $__rate_interval for a panel: one point per pixel at most, never finer than the scrape
 * interval; the rate window covers at least four scrapes, so a rate never falls between two samples.
 * @param {number} rangeSeconds @param {number} widthPx @param {number} scrapeSeconds
 */
export function intervalsFor(rangeSeconds, widthPx, scrapeSeconds) {
  const raw = rangeSeconds / Math.max(widthPx, 1);
  const nice = niceIntervals.find((s) => s >= raw) ?? niceIntervals.at(-1) ?? 60;
  const step = Math.max(scrapeSeconds, nice);
  return { step, rateInterval: Math.max(step + scrapeSeconds, 4 * scrapeSeconds) };
}

/** A time range ending now, aligned to the step, so that successive refreshes ask for the same points. @param {number} nowSeconds @param {number} rangeSeconds @param {number} step */
export function alignedRange(nowSeconds, rangeSeconds, step) {
  const end = Math.floor(nowSeconds / step) * step;
  return { start: end - Math.ceil(rangeSeconds / step) * step, end, step };
}

/** @param {string} value */
const escapeRegex = (value) => value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A query with the dashboard's variables in it, as Grafana's Prometheus datasource interpolates them: a multi-value
 * variable becomes a regex alternation.
 * @param {string} expr
 * @param {Record<string, string | string[]>} variables e.g. { service: ['gateway', 'orders'], __rate_interval: '8s' }
 */
export function interpolate(expr, variables) {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced, bare) => {
    const value = variables[braced ?? bare];
    if (value === undefined) return whole;
    return Array.isArray(value) ? `(${value.map(escapeRegex).join('|')})` : value;
  });
}

/** A legend as Grafana formats it: `{{label}}` replaced, or the series' labels when there is no format. @param {string | undefined} format @param {Record<string, string>} labels */
export function legendOf(format, labels) {
  if (format) return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, name) => labels[name] ?? '');
  const { __name__: name = '', ...rest } = labels;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}="${v}"`);
  return pairs.length ? `${name}{${pairs.join(', ')}}` : name || 'value';
}

/** @param {number} value @param {number | undefined} decimals */
function fixed(value, decimals) {
  if (decimals !== undefined && decimals !== null) return value.toFixed(decimals);
  const abs = Math.abs(value);
  const digits = abs === 0 || abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return String(Number(value.toFixed(digits)));
}

/** @param {number} value @param {number | undefined} decimals @param {string[]} suffixes @param {number} base */
function scaled(value, decimals, suffixes, base) {
  let i = 0;
  while (Math.abs(value) >= base && i < suffixes.length - 1) {
    value /= base;
    i++;
  }
  return `${fixed(value, decimals)}${suffixes[i]}`;
}

/** @type {Record<string, (value: number, decimals?: number) => string>} */
const formatters = {
  short: (v, d) => scaled(v, d, ['', ' K', ' Mil', ' Bil', ' Tri'], 1000),
  none: (v, d) => fixed(v, d),
  reqps: (v, d) => `${fixed(v, d)} req/s`,
  ops: (v, d) => `${fixed(v, d)} ops/s`,
  percentunit: (v, d) => `${fixed(v * 100, d)}%`,
  percent: (v, d) => `${fixed(v, d)}%`,
  bytes: (v, d) => scaled(v, d, [' B', ' KiB', ' MiB', ' GiB', ' TiB'], 1024),
  s: (v, d) => {
    const abs = Math.abs(v);
    if (abs === 0) return '0 s';
    if (abs < 0.001) return `${fixed(v * 1e6, d)} µs`;
    if (abs < 1) return `${fixed(v * 1000, d)} ms`;
    if (abs < 60) return `${fixed(v, d)} s`;
    if (abs < 3600) return `${fixed(v / 60, d)} min`;
    return `${fixed(v / 3600, d)} hour`;
  },
};

/** Units the page formats; a dashboard with another unit fails the unit tests. */
export const units = Object.keys(formatters);

/** A value in a panel's unit, as Grafana writes it. @param {string | undefined} unit @param {number | null | undefined} value @param {number} [decimals] */
export function formatValue(unit, value, decimals) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  const format = formatters[unit ?? 'short'] ?? formatters.short;
  return /** @type {(v: number, d?: number) => string} */ (format)(value, decimals);
}

/**
 * @typedef {{ color: string, value: number | null }} ThresholdStep
 * @typedef {{ mode?: string, steps?: ThresholdStep[] }} Thresholds
 */

/** The colour of the threshold step a value falls in. @param {Thresholds | undefined} thresholds @param {number | null | undefined} value */
export function thresholdColor(thresholds, value) {
  const steps = thresholds?.steps ?? [];
  let color = steps[0]?.color;
  for (const step of steps) if (step.value !== null && value !== null && value !== undefined && value >= step.value) color = step.color;
  return colorOf(color);
}

/**
 * A value's text and colour from Grafana's value-to-text mappings, if one matches.
 * @param {Array<{ type: string, options: Record<string, { text?: string, color?: string }> }> | undefined} mappings
 * @param {number | null} value
 */
export function mapValue(mappings, value) {
  if (value === null) return undefined;
  for (const m of mappings ?? []) {
    if (m.type !== 'value') continue;
    const hit = m.options[String(value)];
    if (hit) return { text: hit.text ?? String(value), color: hit.color ? colorOf(hit.color) : undefined };
  }
  return undefined;
}

/**
 * @typedef {{ metric: Record<string, string>, values: Array<[number, string]> }} PromSeries
 * @typedef {{ label: string, labels: Record<string, string>, refId: string, values: Array<number | null> }} Series
 */

/**
 * Prometheus's range results on one time grid, a null where a series has no point: a gap stays a gap, as with
 * Grafana's spanNulls off. A value that is not a number (NaN, ±Inf) is a gap too.
 * @param {{ start: number, end: number, step: number }} range
 * @param {Array<{ refId: string, legendFormat?: string, result: PromSeries[] }>} answers
 */
export function alignSeries(range, answers) {
  const count = Math.round((range.end - range.start) / range.step) + 1;
  const times = Array.from({ length: count }, (_v, i) => range.start + i * range.step);
  /** @type {Series[]} */
  const series = [];
  for (const answer of answers) {
    for (const s of answer.result) {
      /** @type {Array<number | null>} */
      const values = new Array(count).fill(null);
      for (const [t, v] of s.values) {
        const i = Math.round((t - range.start) / range.step);
        const n = Number(v);
        if (i >= 0 && i < count && Number.isFinite(n)) values[i] = n;
      }
      series.push({ label: legendOf(answer.legendFormat, s.metric), labels: s.metric, refId: answer.refId, values });
    }
  }
  return { times, series };
}

/** The last value that is not null, as Grafana's `lastNotNull` reducer. @param {Array<number | null>} values */
export function lastNotNull(values) {
  for (let i = values.length - 1; i >= 0; i--) if (values[i] !== null) return values[i];
  return null;
}

/**
 * A state timeline's row: runs of equal values (Grafana's mergeValues), each from its first point until the next run.
 * @param {number[]} times @param {Array<number | null>} values @param {number} step
 */
export function stateRuns(times, values, step) {
  /** @type {Array<{ from: number, to: number, value: number }>} */
  const runs = [];
  for (let i = 0; i < times.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) continue;
    const t = /** @type {number} */ (times[i]);
    const last = runs.at(-1);
    if (last && last.value === value && last.to === t) last.to = t + step;
    else runs.push({ from: t, to: t + step, value });
  }
  return runs;
}

/**
 * Faults as shaded bands, as Grafana draws a Prometheus annotation with useValueForTime off: each run of points of
 * one series above zero is one region, titled and tagged from its labels.
 * @param {{ start: number, end: number, step: number }} range
 * @param {PromSeries[]} result
 * @param {{ titleFormat?: string, textFormat?: string }} annotation
 */
export function faultBands(range, result, annotation) {
  const { times, series } = alignSeries(range, [{ refId: 'annotation', result }]);
  return series.flatMap((s) =>
    stateRuns(
      times,
      s.values.map((v) => (v !== null && v > 0 ? 1 : null)),
      range.step,
    ).map((run) => ({ from: run.from, to: Math.min(run.to, range.end), title: legendOf(annotation.titleFormat, s.labels), text: legendOf(annotation.textFormat, s.labels) })),
  );
}

/**
 * Variables as the page offers them, and the values the URL asks for where they are among the options.
 * @param {{ name: string, type: string, query?: unknown, multi?: boolean, includeAll?: boolean }} variable
 * @param {string[]} options
 * @param {string[]} requested
 */
export function selectedValues(variable, options, requested) {
  const valid = requested.filter((v) => v === '$__all' || options.includes(v));
  if (valid.length === 0 || valid.includes('$__all')) return variable.includeAll ? options : options.slice(0, 1);
  return variable.multi ? valid : valid.slice(0, 1);
}

/** Grafana's `label_values(metric, label)` variable query, parsed. @param {unknown} query */
export function labelValuesOf(query) {
  const text = typeof query === 'string' ? query : String(/** @type {{ query?: unknown }} */ (query)?.query ?? '');
  const m = /^label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*(\w+)\s*\)$/.exec(text.trim());
  return m ? { metric: /** @type {string} */ (m[1]), label: /** @type {string} */ (m[2]) } : undefined;
}

/** Relative ranges the page offers, as Grafana writes them. */
export const ranges = /** @type {const} */ ({ 'now-5m': 300, 'now-15m': 900, 'now-1h': 3600 });
