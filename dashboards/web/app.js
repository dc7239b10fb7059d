// @ts-check
// The live page: one of the chart's dashboards, its variables, a time range and a refresh every 2 s, drawn panel by
// panel from Prometheus's range API (through the page's own small API), with the faults as shaded bands.
import { alignSeries, alignedRange, faultBands, intervalsFor, interpolate, labelValuesOf, ranges, selectedValues } from './model.js';
import { renderers } from './panels.js';

const refreshMs = 2000;
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
const params = new URLSearchParams(location.search);

/** @typedef {import('./panels.js').Panel & { id: number, gridPos: { x: number, y: number, w: number, h: number }, targets?: Array<{ refId: string, expr: string, legendFormat?: string }>, description?: string, panels?: any[] }} Panel */

class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** @param {string} path */
async function api(path) {
  let res;
  try {
    res = await fetch(path, { signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new ApiError(0, 'page_server_unavailable', `the dashboard server is not answering (${/** @type {Error} */ (err).message})`);
  }
  const body = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiError(res.status, body?.error?.code ?? 'error', body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

const state = {
  /** @type {any} */ dashboard: undefined,
  /** @type {Record<string, string[]>} */ variables: {},
  range: /** @type {keyof typeof ranges} */ ((params.get('from') ?? '') in ranges ? params.get('from') : 'now-15m'),
  paused: params.get('refresh') === 'paused',
  scrapeSeconds: 15,
  /** @type {View[]} */ views: [],
  /** @type {import('./panels.js').Band[]} */ faults: [],
  busy: false,
  /** A variable's options could not be read (Prometheus was down): read again at the next refresh. */
  variablesPending: false,
};

/** The URL says what is shown, so that a link reopens the same view. */
function saveUrl() {
  const q = new URLSearchParams({ dashboard: state.dashboard.uid, from: state.range });
  for (const [name, values] of Object.entries(state.variables)) for (const v of values) q.append(`var-${name}`, v);
  if (state.paused) q.set('refresh', 'paused');
  history.replaceState(null, '', `?${q}`);
}

/** @param {string | undefined} text */
function banner(text) {
  const b = $('banner');
  b.hidden = !text;
  b.textContent = text ?? '';
}

async function loadVariables() {
  const box = $('variables');
  box.replaceChildren();
  state.variables = {};
  state.variablesPending = false;
  for (const v of state.dashboard.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const source = labelValuesOf(v.query);
    if (!source) throw new Error(`variable $${v.name}: only label_values(metric, label) queries are supported`);
    /** @type {string[]} */
    const options = await api(`/api/label_values?${new URLSearchParams(source)}`).catch(() => ((state.variablesPending = true), []));
    options.sort();
    state.variables[v.name] = selectedValues(v, options, params.getAll(`var-${v.name}`));
    box.append(variableControl(v, options));
  }
}

/** A multi-value variable as Grafana shows it: a dropdown of checkboxes, with All. @param {any} v @param {string[]} options */
function variableControl(v, options) {
  const wrap = document.createElement('details');
  wrap.className = 'variable';
  const summary = document.createElement('summary');
  const label = () => {
    const values = state.variables[v.name] ?? [];
    summary.textContent = `${v.label ?? v.name}: ${values.length === options.length && v.includeAll ? 'All' : values.join(' + ') || 'none'}`;
  };
  const list = document.createElement('div');
  list.className = 'options';
  for (const option of options) {
    const item = document.createElement('label');
    const box = document.createElement('input');
    box.type = v.multi ? 'checkbox' : 'radio';
    box.name = `var-${v.name}`;
    box.checked = state.variables[v.name]?.includes(option) ?? false;
    box.addEventListener('change', () => {
      const checked = [...list.querySelectorAll('input')].filter((i) => i.checked).map((i) => i.parentElement?.textContent ?? '');
      state.variables[v.name] = checked.length ? checked : options;
      label();
      saveUrl();
      void refresh();
    });
    item.append(box, option);
    list.append(item);
  }
  label();
  wrap.append(summary, list);
  return wrap;
}

/** Which panels are in view (or nearly): only they are queried at each refresh. */
const visibility = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const view = state.views.find((v) => v.root === entry.target);
      if (!view) continue;
      const appeared = entry.isIntersecting && !view.visible;
      view.visible = entry.isIntersecting;
      if (appeared && !state.busy) void refreshPanel(view, Date.now() / 1000, state.faults);
    }
  },
  { rootMargin: '300px 0px' },
);

/** Rows as sections, each a 24-column grid placed as Grafana's gridPos says; clicking a row's title folds it. */
function layout() {
  for (const v of state.views) v.renderer?.destroy();
  visibility.disconnect();
  state.views = [];
  const main = $('panels');
  main.replaceChildren();
  /** @type {HTMLElement | undefined} */
  let grid;
  let rowY = -1;
  const panels = /** @type {Panel[]} */ (state.dashboard.panels ?? []).flatMap((p) => (p.type === 'row' ? [p, ...(p.panels ?? [])] : [p]));
  for (const panel of panels) {
    if (panel.type === 'row') {
      const header = document.createElement('div');
      header.className = 'row-header';
      header.textContent = panel.title ?? '';
      const section = document.createElement('div');
      section.className = 'grid';
      header.addEventListener('click', () => {
        header.classList.toggle('collapsed');
        section.classList.toggle('collapsed');
      });
      main.append(header, section);
      grid = section;
      rowY = panel.gridPos.y;
      continue;
    }
    if (!grid) {
      grid = document.createElement('div');
      grid.className = 'grid';
      main.append(grid);
    }
    const root = document.createElement('section');
    root.className = 'panel';
    root.dataset.type = panel.type;
    root.dataset.title = panel.title ?? '';
    root.dataset.state = 'loading';
    root.style.gridColumn = `${panel.gridPos.x + 1} / span ${panel.gridPos.w}`;
    root.style.gridRow = `${panel.gridPos.y - rowY} / span ${panel.gridPos.h}`;
    const title = document.createElement('h3');
    title.textContent = panel.title ?? '';
    if (panel.description) {
      const info = document.createElement('span');
      info.className = 'info';
      info.textContent = 'i';
      info.title = panel.description;
      title.append(info);
    }
    const body = document.createElement('div');
    body.className = 'body';
    root.append(title, body);
    grid.append(root);
    const make = renderers[panel.type];
    /** @type {View} */
    const view = { panel, root, body, visible: false, ...(make ? { renderer: make(body, panel) } : {}) };
    if (!make) message(view, `This page cannot draw a ${panel.type} panel (it draws ${Object.keys(renderers).join(', ')}).`, 'error');
    state.views.push(view);
    visibility.observe(root);
  }
}

/** @param {{ root: HTMLElement, body: HTMLElement }} view @param {string | undefined} text @param {string} panelState */
function message(view, text, panelState) {
  view.root.dataset.state = panelState;
  view.body.querySelector(':scope > .message')?.remove();
  if (text === undefined) return;
  const m = document.createElement('div');
  m.className = 'message';
  m.textContent = text;
  view.body.append(m);
}

/** @param {string} query @param {{ start: number, end: number, step: number }} range */
const queryRange = (query, range) => api(`/api/query_range?${new URLSearchParams({ query, start: String(range.start), end: String(range.end), step: String(range.step) })}`);

/** The faults as bands, from the dashboard's Prometheus annotations (Grafana's own annotation store is not here). @param {number} now @param {number} seconds */
async function bands(now, seconds) {
  const all = [];
  for (const a of state.dashboard.annotations?.list ?? []) {
    if (a.datasource?.type !== 'prometheus' || !a.enable || !a.expr) continue;
    const step = Math.max(state.scrapeSeconds, Number.parseInt(a.step ?? '', 10) || 0);
    const range = alignedRange(now, seconds, step);
    const data = await queryRange(interpolate(a.expr, { ...state.variables, datasource: 'prometheus' }), range);
    all.push(...faultBands(range, data.result, a));
  }
  return all;
}

/** @typedef {{ panel: Panel, root: HTMLElement, body: HTMLElement, renderer?: import('./panels.js').Renderer, visible: boolean }} View */

/** One panel's queries at its own step, drawn; a failure is said in the panel and returned. @param {View} view @param {number} now @param {import('./panels.js').Band[]} faults */
async function refreshPanel(view, now, faults) {
  if (!view.renderer || !view.panel.targets?.length) return undefined;
  const seconds = ranges[state.range];
  const { step, rateInterval } = intervalsFor(seconds, view.body.clientWidth || 600, state.scrapeSeconds);
  const range = alignedRange(now, seconds, step);
  const variables = { ...state.variables, datasource: 'prometheus', __interval: `${step}s`, __rate_interval: `${rateInterval}s`, __range: `${seconds}s` };
  try {
    const answers = await Promise.all(
      view.panel.targets.map(async (t) => ({ refId: t.refId, legendFormat: t.legendFormat, result: (await queryRange(interpolate(t.expr, variables), range)).result })),
    );
    const frame = { ...alignSeries(range, answers), range };
    const hasData = frame.series.some((s) => s.values.some((v) => v !== null));
    const noValue = view.panel.fieldConfig?.defaults?.noValue;
    message(view, hasData || view.panel.type === 'stat' ? undefined : 'No data', hasData ? 'data' : noValue !== undefined ? 'novalue' : 'empty');
    view.renderer.draw(frame, faults);
    return undefined;
  } catch (err) {
    message(view, /** @type {Error} */ (err).message, 'error');
    return err;
  }
}

/**
 * One refresh: the queries of every panel in view, all at once, as Grafana does (a panel scrolled into view is drawn
 * then); none while the tab is hidden. A Prometheus outage is said once, at the top.
 */
async function refresh() {
  if (state.busy || document.hidden) return;
  state.busy = true;
  if (state.variablesPending) await loadVariables().catch(() => undefined);
  const now = Date.now() / 1000;
  /** @type {unknown[]} */
  const failures = [];
  try {
    state.faults = await bands(now, ranges[state.range]).catch((err) => (failures.push(err), state.faults));
    failures.push(...(await Promise.all(state.views.filter((v) => v.visible).map((view) => refreshPanel(view, now, state.faults)))).filter(Boolean));
  } finally {
    state.busy = false;
  }
  const outage = failures.find((e) => e instanceof ApiError && (e.status === 503 || e.status === 0));
  banner(outage ? `${/** @type {Error} */ (outage).message}. Retrying every ${refreshMs / 1000} s.` : undefined);
  $('updated').textContent = `${state.paused ? 'paused' : 'updated'} ${new Date().toLocaleTimeString([], { hour12: false })}`;
}

async function open(/** @type {string} */ uid) {
  state.dashboard = await api(`/api/dashboards/${encodeURIComponent(uid)}`);
  document.title = `${state.dashboard.title} · faultline`;
  await loadVariables();
  layout();
  saveUrl();
  await refresh();
}

async function start() {
  const index = await api('/api/dashboards');
  state.scrapeSeconds = index.datasource.scrapeIntervalSeconds;
  const picker = /** @type {HTMLSelectElement} */ ($('dashboard'));
  for (const d of index.dashboards) picker.append(new Option(d.title, d.uid));
  const wanted = params.get('dashboard');
  picker.value = index.dashboards.some((/** @type {{ uid: string }} */ d) => d.uid === wanted) ? /** @type {string} */ (wanted) : index.dashboards[0].uid;
  picker.addEventListener('change', () => void open(picker.value));
  /** @type {HTMLSelectElement} */ ($('datasource')).append(new Option(index.datasource.name, 'prometheus'));
  const range = /** @type {HTMLSelectElement} */ ($('range'));
  range.value = state.range;
  range.addEventListener('change', () => {
    state.range = /** @type {keyof typeof ranges} */ (range.value);
    saveUrl();
    void refresh();
  });
  const pause = $('pause');
  const showPause = () => (pause.textContent = state.paused ? 'Resume' : 'Pause');
  showPause();
  pause.addEventListener('click', () => {
    state.paused = !state.paused;
    showPause();
    saveUrl();
    if (!state.paused) void refresh();
  });
  await open(picker.value);
  setInterval(() => state.paused || void refresh(), refreshMs);
  document.addEventListener('visibilitychange', () => document.hidden || state.paused || void refresh());
}

start().catch((err) => banner(`The page could not start: ${err.message}`));
