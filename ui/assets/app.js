// expman ui: app.js, the whole browser page of `expman ui` (plain ES2020, no library, no build step).
//
// It talks only to the JSON API of the server (/api/...), and is organised top to bottom as:
//   1. util     small DOM and timing helpers: h(), esc(), throttle(), debounce(), Scope
//   2. format   value formatting: local times, durations, floats, bytes, counts, table cells
//   3. api      fetch wrapper: JSON in and out, errors as ApiError, 401 opens the token dialog
//   4. state    the experiment choice and the run selection (kept in sessionStorage)
//   5. events   the one EventSource on /api/events (`live`, `record`), reconnecting with backoff
//   6. chart    a small canvas chart module: nice ticks, Surface (canvas, devicePixelRatio,
//               resize, tooltip), LineChart (lines, bands, points, steps, legend), ParallelChart
//   7. views    runs (virtualized table), run, compare, live, search
//   8. router   hash routes (#/runs, #/run/ID, #/compare?runs=a,b, #/live, #/search), start-up
//
// A view is a function (root, route, scope) returning hooks { onLive, onRecord, onExperiment };
// `scope` collects clean-ups, and its `alive` flag tells late answers that the view is gone.
'use strict';

// ---------------------------------------------------------------- 1. util

const $ = (selector, root = document) => root.querySelector(selector);
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);

// h('div', {class: 'x', onclick: f, dataset: {id: 1}}, child, 'text', [more]) builds an element.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

// Runs fn at most once per `ms` (first call at once, the last one of a burst at the end).
function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  const run = () => { timer = null; last = Date.now(); safely(fn); };
  const throttled = () => {
    const wait = last + ms - Date.now();
    if (wait <= 0 && !timer) run();
    else if (!timer) timer = setTimeout(run, Math.max(0, wait));
  };
  throttled.cancel = () => { clearTimeout(timer); timer = null; };
  return throttled;
}

// Runs fn once `ms` after the last call.
function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => { clearTimeout(timer); timer = setTimeout(() => safely(() => fn(...args)), ms); };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

// Calls fn, reporting (not throwing) what it throws: a page error never blanks the page.
function safely(fn) {
  try {
    return fn();
  } catch (error) {
    report(error);
    return undefined;
  }
}

// What a view owns: clean-ups to run when it is left, and whether it is still shown.
class Scope {
  constructor() { this.alive = true; this.cleanups = []; }
  add(fn) { this.cleanups.push(fn); return fn; }
  listen(target, type, fn, options) {
    target.addEventListener(type, fn, options);
    this.add(() => target.removeEventListener(type, fn, options));
  }
  interval(fn, ms) { const id = setInterval(() => safely(fn), ms); this.add(() => clearInterval(id)); }
  close() {
    this.alive = false;
    for (const fn of this.cleanups.splice(0)) safely(fn);
  }
}

// ---------------------------------------------------------------- 2. format

const pad2 = (n) => String(n).padStart(2, '0');
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

// ms since the epoch -> local "YYYY-MM-DD HH:MM:SS".
function fmtTime(ms) {
  if (!isNum(ms)) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

// ms -> "340 ms", "4.2s", "42s", "1m 23s", "2h 05m", "3d 4h".
function fmtDuration(ms) {
  if (!isNum(ms)) return '';
  const sign = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  if (a < 10000) return `${sign}${(Math.floor(a / 100) / 10).toFixed(1)}s`;
  const s = Math.floor(a / 1000);
  if (s < 60) return `${sign}${s}s`;
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  if (days) return `${sign}${days}d ${hours}h`;
  if (hours) return `${sign}${hours}h ${pad2(minutes)}m`;
  return `${sign}${minutes}m ${pad2(s % 60)}s`;
}

// A float with up to 4 significant digits; exponent notation for tiny and huge values.
function fmtFloat(v) {
  if (v == null) return '';
  if (typeof v !== 'number') return String(v);
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) {
    return v.toExponential(3).replace(/\.?0+e/, 'e').replace('e+', 'e');
  }
  return String(Number(v.toPrecision(4)));
}

// Any number: integers as they are, others through fmtFloat.
function fmtNumber(v) {
  if (typeof v !== 'number') return v == null ? '' : String(v);
  return Number.isInteger(v) && Math.abs(v) < 1e15 ? String(v) : fmtFloat(v);
}

const fmtCount = (n) => (isNum(n) ? n.toLocaleString('en-US') : '');
const fmtPercent = (p) => (isNum(p) ? `${p < 10 ? p.toFixed(1) : Math.round(p)}%` : '');

// bytes -> "812 KiB", "512 MiB", "3.2 GiB".
function fmtBytes(b) {
  if (!isNum(b)) return '';
  const KiB = 1024;
  const MiB = KiB * 1024;
  const GiB = MiB * 1024;
  if (b >= GiB) return `${(b / GiB).toFixed(b >= 100 * GiB ? 0 : 1)} GiB`;
  if (b >= MiB) return `${Math.round(b / MiB)} MiB`;
  if (b >= KiB) return `${Math.round(b / KiB)} KiB`;
  return `${b} B`;
}

// One value of the runs table, by its column kind (text|int|float|bool|time|duration).
function fmtCell(kind, v) {
  if (v == null) return '';
  switch (kind) {
    case 'time': return fmtTime(v);
    case 'duration': return fmtDuration(v);
    case 'float': return fmtFloat(v);
    case 'int': return String(v);
    case 'bool': return v ? 'true' : 'false';
    default: return typeof v === 'object' ? JSON.stringify(v) : typeof v === 'number' ? fmtNumber(v) : String(v);
  }
}

const ACTIVE = new Set(['RUNNING', 'PENDING']);
const isActive = (status) => ACTIVE.has(status);
const badge = (status, extra) => h('span', { class: `badge status-${status}${extra ? ' ' + extra : ''}` }, status || '?');
const runLink = (id, text) => h('a', { class: 'run-link mono', href: `#/run/${encodeURIComponent(id)}` }, text ?? id);

// ---------------------------------------------------------------- 3. api

class ApiError extends Error {
  constructor(message, status, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

// {a: 1, b: null} -> "?a=1" (null, undefined and '' are left out).
function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value != null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

// GET (or opts.method) path?params -> the JSON body; anything else throws ApiError.
async function api(path, params, opts = {}) {
  const init = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (opts.method) init.method = opts.method;
  if (opts.body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(opts.body);
  }
  let response;
  try {
    response = await fetch(path + query(params), init);
  } catch (error) {
    throw new ApiError(`cannot reach the server (${error.message}): is \`expman ui\` still running?`, 0, null);
  }
  const text = await response.text().catch(() => '');
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    if (response.status === 401 && !opts.noLogin) showLogin();
    const message = (body && body.error) || `HTTP ${response.status} ${response.statusText}`.trim();
    throw new ApiError(message, response.status, body);
  }
  if (body == null) throw new ApiError(`${path}: the server answered something other than JSON`, response.status, null);
  return body;
}

const post = (path, body) => api(path, null, { method: 'POST', body: body ?? {} });

// An error as a view shows it.
const errorBox = (error, extra) => h('div', { class: 'error-box' }, error && error.message ? error.message : String(error), extra);

// Errors nobody else caught: logged, and shown above the current view.
function report(error) {
  console.error(error);
  const view = typeof document !== 'undefined' && $('#view');
  if (!view) return;
  const box = errorBox(error, h('button', { type: 'button', class: 'small', onclick: () => box.remove() }, 'dismiss'));
  box.classList.add('page-error');
  view.prepend(box);
}

// The token dialog: shown on the first 401; logging in reloads the page.
let loginShown = false;
function showLogin() {
  const dialog = $('#login-dialog');
  if (!dialog || loginShown) return;
  loginShown = true;
  dialog.hidden = false;
  $('#token-input').focus();
}

function setupLogin() {
  const form = $('#login-form');
  if (!form) return;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = $('#token-input').value.trim();
    const problem = $('#login-error');
    problem.hidden = true;
    if (!token) return;
    try {
      await api('/api/login', null, { method: 'POST', body: { token }, noLogin: true });
      location.reload();
    } catch (error) {
      problem.textContent = error.message;
      problem.hidden = false;
    }
  });
}

// ---------------------------------------------------------------- 4. state

const store = {
  get(key, fallback) {
    try {
      const text = sessionStorage.getItem(`expman.${key}`);
      return text == null ? fallback : JSON.parse(text);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      sessionStorage.setItem(`expman.${key}`, JSON.stringify(value));
    } catch { /* storage full or refused: the page works without it */ }
  },
};

const state = {
  experiment: '',          // '' = all experiments
  selected: new Set(),     // run ids ticked in the runs table
  info: null,              // /api/info
};

const compareHref = (ids) => `#/compare${ids.length ? `?runs=${ids.map(encodeURIComponent).join(',')}` : ''}`;

function saveSelection() {
  store.set('selected', [...state.selected]);
  updateCompareLink();
}

function updateCompareLink() {
  const count = $('#compare-count');
  if (count) count.textContent = String(state.selected.size);
  const link = $('#nav-compare');
  if (link) link.setAttribute('href', compareHref([...state.selected]));
}

// Fills the experiment picker and the workspace path from /api/info.
async function loadInfo() {
  const picker = $('#experiment-picker');
  try {
    const info = await api('/api/info');
    state.info = info;
    const ws = $('#workspace');
    if (ws) { ws.textContent = info.workspace || ''; ws.title = `${info.database || ''}  (expman ${info.version || '?'})`; }
    const names = (info.experiments || []).map((e) => e.name);
    picker.replaceChildren(h('option', { value: '' }, 'all experiments'),
      ...(info.experiments || []).map((e) => h('option', { value: e.name }, `${e.name} (${fmtCount(e.runs)})`)));
    if (state.experiment && !names.includes(state.experiment)) {
      state.experiment = '';
      store.set('experiment', '');
      dispatch('onExperiment');
    }
    picker.value = state.experiment;
  } catch (error) {
    if (picker) picker.title = `experiments unknown: ${error.message}`;
  }
}

// ---------------------------------------------------------------- 5. events

const events = { source: null, delay: 1000, timer: null, version: null, last: null };

function setConnected(ok) {
  const dot = $('#conn');
  if (!dot) return;
  dot.className = ok ? 'ok' : 'down';
  dot.title = ok ? 'Live updates: connected' : 'Live updates: disconnected, retrying';
}

// One EventSource for every view; reconnects with backoff (1 s doubling to 30 s).
function connectEvents() {
  clearTimeout(events.timer);
  if (typeof EventSource === 'undefined') return;
  const source = new EventSource('/api/events');
  events.source = source;
  source.onopen = () => { events.delay = 1000; setConnected(true); };
  source.onerror = () => {
    setConnected(false);
    source.close();
    if (events.source !== source) return;
    events.source = null;
    events.timer = setTimeout(connectEvents, events.delay);
    events.delay = Math.min(events.delay * 2, 30000);
  };
  source.addEventListener('live', (event) => {
    let data;
    try { data = JSON.parse(event.data); } catch { return; }
    events.last = data;
    dispatch('onLive', data);
  });
  source.addEventListener('record', (event) => {
    let version = null;
    try { version = JSON.parse(event.data).version; } catch { /* an odd event still means "changed" */ }
    // The first event after (re)connecting only tells the current version.
    const changed = events.version !== null && version !== events.version;
    events.version = version;
    if (changed) dispatch('onRecord', version);
  });
}

// ---------------------------------------------------------------- 6. chart

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#59a14f', '#b07aa1', '#76b7b2', '#edc948', '#ff9da7', '#9c755f', '#17becf'];
// The i-th series colour: a fixed palette, then golden-angle hues.
const seriesColor = (i) => (i < PALETTE.length ? PALETTE[i] : `hsl(${Math.round((i * 137.508) % 360)}, 62%, 52%)`);
const CHART_FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

// A "nice" step (1, 2 or 5 times a power of ten) for about `count` intervals over `span`.
function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  if (!(raw > 0) || !Number.isFinite(raw)) return 1;
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / magnitude;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude;
}

// Rounds away floating noise (0.30000000000000004 -> 0.3) at the step's precision.
function roundToStep(v, step) {
  const digits = Math.max(0, Math.min(20, 2 - Math.floor(Math.log10(step))));
  return Number(v.toFixed(digits));
}

// Ticks for [min, max]: {min, max (widened to whole steps), step, ticks}.
function niceTicks(min, max, count = 5) {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return { min: 0, max: 1, step: 0.5, ticks: [0, 0.5, 1] };
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const step = niceStep(max - min, count);
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const n = Math.round((hi - lo) / step);
  const ticks = [];
  for (let i = 0; i <= n; i++) ticks.push(roundToStep(lo + i * step, step));
  return { min: roundToStep(lo, step), max: roundToStep(hi, step), step, ticks };
}

// Ticks for a log axis over [min, max] (both > 0): 1-2-5 per decade, fewer when many decades.
function logTicks(min, max, count = 5) {
  if (!(min > 0) || !(max > 0)) return { min: 1, max: 10, ticks: [1, 10] };
  if (min === max) { min /= 2; max *= 2; }
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  const pad = (hi - lo) * 0.04;
  const domainMin = Math.pow(10, lo - pad);
  const domainMax = Math.pow(10, hi + pad);
  const decades = hi - lo;
  const every = Math.max(1, Math.ceil(decades / Math.max(1, count)));
  const mantissas = decades <= 2.5 ? [1, 2, 5] : [1];
  const ticks = [];
  for (let e = Math.floor(lo - pad); e <= Math.ceil(hi + pad); e += every) {
    for (const m of mantissas) {
      const v = m * Math.pow(10, e);
      if (v >= domainMin && v <= domainMax) ticks.push(Number(v.toPrecision(6)));
    }
  }
  if (ticks.length < 2) {
    const linear = niceTicks(domainMin, domainMax, count).ticks.filter((v) => v > 0 && v >= domainMin && v <= domainMax);
    return { min: domainMin, max: domainMax, ticks: linear };
  }
  return { min: domainMin, max: domainMax, ticks };
}

// Ticks for a time axis (ms since the epoch) aligned to the local clock.
const TIME_STEPS = [1, 2, 5, 10, 15, 30].map((s) => s * 1000)
  .concat([1, 2, 5, 10, 15, 30].map((m) => m * 60000), [1, 2, 3, 6, 12].map((hr) => hr * 3600000),
    [1, 2, 7, 14, 30].map((d) => d * 86400000));
function timeTicks(min, max, count = 5) {
  const raw = (max - min) / Math.max(1, count);
  const step = TIME_STEPS.find((s) => s >= raw) || niceStep(max - min, count);
  const offset = new Date(min).getTimezoneOffset() * 60000;
  const ticks = [];
  for (let t = Math.ceil((min - offset) / step) * step + offset; t <= max && ticks.length < 500; t += step) ticks.push(t);
  return { min, max, step, ticks };
}

// A clock label for a time tick: seconds shown only when the step needs them.
function fmtClock(t, step, span) {
  const d = new Date(t);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  const day = `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}`;
  if (step >= 86400000) return day;
  if (step < 60000) return `${hm}:${pad2(d.getSeconds())}`;
  return span > 86400000 ? `${day} ${hm}` : hm;
}

// A tick label: decimals from the step; exponent for tiny and huge values.
function fmtTick(v, step) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (!step || a >= 1e6 || a < 1e-4) return fmtFloat(v);
  const decimals = Math.max(0, Math.min(10, -Math.floor(Math.log10(step) + 1e-9)));
  return v.toFixed(decimals);
}

// The page's colours, read from the CSS variables (so dark mode follows).
function chartTheme() {
  const css = getComputedStyle(document.documentElement);
  const read = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return { fg: read('--fg', '#1d2129'), muted: read('--muted', '#6a7180'), grid: read('--grid', '#e8eaee'),
    border: read('--border', '#d9dde3'), bg: read('--bg', '#fff') };
}

// A canvas in a `.chart` box, with devicePixelRatio, redraw on resize, a tooltip and a legend.
// Subclasses implement draw() and hover(x, y).
class Surface {
  constructor(container, opts = {}) {
    this.opts = opts;
    this.box = container;
    container.classList.add('chart');
    this.canvas = h('canvas', { id: opts.id, role: 'img', 'aria-label': opts.label || 'chart' });
    this.tip = h('div', { class: 'chart-tip', hidden: true });
    this.dot = h('div', { class: 'chart-dot', hidden: true });
    this.legend = h('div', { class: 'chart-legend', hidden: true });
    container.append(this.canvas, this.legend, this.tip, this.dot);
    this.frame = 0;
    this.hoverFrame = 0;
    this.mouse = null;
    this.resizer = typeof ResizeObserver === 'undefined' ? null : new ResizeObserver(() => this.schedule());
    if (this.resizer) this.resizer.observe(this.canvas);
    this.canvas.addEventListener('mousemove', (event) => {
      this.mouse = [event.offsetX, event.offsetY];
      if (this.hoverFrame) return;
      this.hoverFrame = requestAnimationFrame(() => {
        this.hoverFrame = 0;
        if (this.mouse) safely(() => this.hover(this.mouse[0], this.mouse[1]));
      });
    });
    this.canvas.addEventListener('mouseleave', () => { this.mouse = null; this.hideTip(); this.unhover(); });
  }

  // Redraws on the next frame (several calls, one draw).
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; safely(() => this.draw()); });
  }

  // Sizes the backing store to CSS size x devicePixelRatio; returns the context in CSS pixels.
  prepare() {
    const w = Math.max(1, this.canvas.clientWidth || 600);
    const ht = Math.max(1, this.canvas.clientHeight || 300);
    const dpr = window.devicePixelRatio || 1;
    const W = Math.round(w * dpr);
    const H = Math.round(ht * dpr);
    if (this.canvas.width !== W) this.canvas.width = W;
    if (this.canvas.height !== H) this.canvas.height = H;
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, ht);
    ctx.font = CHART_FONT;
    return { ctx, w, h: ht, theme: chartTheme() };
  }

  // Writes a centered message (no data, loading) on an empty chart.
  message(ctx, w, ht, text, theme) {
    ctx.fillStyle = theme.muted;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, w / 2, ht / 2);
  }

  // Shows the tooltip near canvas point (px, py), inside the box; a ring marks the point.
  showTip(px, py, html, mark = true) {
    const left = this.canvas.offsetLeft;
    const top = this.canvas.offsetTop;
    this.tip.innerHTML = html;
    this.tip.hidden = false;
    const tw = this.tip.offsetWidth;
    let x = left + px + 14;
    if (x + tw > this.box.clientWidth) x = Math.max(0, left + px - tw - 14);
    this.tip.style.left = `${x}px`;
    this.tip.style.top = `${Math.max(0, top + py - 10 - (py > this.canvas.clientHeight / 2 ? this.tip.offsetHeight : 0))}px`;
    this.dot.hidden = !mark;
    this.dot.style.left = `${left + px}px`;
    this.dot.style.top = `${top + py}px`;
  }

  hideTip() { this.tip.hidden = true; this.dot.hidden = true; }
  unhover() {}

  destroy() {
    if (this.resizer) this.resizer.disconnect();
    cancelAnimationFrame(this.frame);
    cancelAnimationFrame(this.hoverFrame);
  }
}

// Lines, std bands, points and step lines on linear or log y; x numeric, time or categories.
// data = { series: [{ name, color, x, y, std?, kind: 'line'|'points'|'step', pointColors?, labels?,
//          width?, dash? }], xLabel, yLabel, logY, xTime, xCategories, empty, legend }
// x/y/std may be plain or typed arrays; null and NaN leave gaps. One path per series.
class LineChart extends Surface {
  constructor(container, opts = {}) {
    super(container, opts);
    this.data = { series: [] };
    this.hidden = new Set();
    this.view = null;
    this.legend.addEventListener('click', (event) => {
      const item = event.target.closest('span[data-i]');
      const s = item && this.data.series[Number(item.dataset.i)];
      if (!s) return;
      if (this.hidden.has(s.name)) this.hidden.delete(s.name);
      else this.hidden.add(s.name);
      item.classList.toggle('off', this.hidden.has(s.name));
      this.draw();
    });
  }

  setData(data) {
    this.data = data || { series: [] };
    this.hasData = true;
    this.renderLegend();
    this.draw();
  }

  renderLegend() {
    const series = this.data.series || [];
    this.legend.hidden = !(this.data.legend ?? series.length > 1) || !series.length;
    if (this.legend.hidden) return;
    this.legend.replaceChildren(...series.map((s, i) => h('span', { 'data-i': i, class: this.hidden.has(s.name) ? 'off' : null, title: s.name },
      h('i', { style: `background:${s.color}` }), s.name)));
  }

  draw() {
    const { ctx, w, h: H, theme } = this.prepare();
    const d = this.data;
    const logY = !!d.logY;
    const series = (d.series || []).filter((s) => s && s.x && s.y && !this.hidden.has(s.name));
    const usable = (xv, yv) => Number.isFinite(xv) && Number.isFinite(yv) && !(logY && yv <= 0);
    // The extent of the finite points (with mean ± std).
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    for (const s of series) {
      const { x, y, std } = s;
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const xv = x[i];
        const yv = y[i];
        if (!usable(xv, yv)) continue;
        if (xv < x0) x0 = xv;
        if (xv > x1) x1 = xv;
        let lo = yv;
        let hi = yv;
        if (std && Number.isFinite(std[i])) {
          lo = yv - std[i];
          hi = yv + std[i];
          if (logY && lo <= 0) lo = yv;
        }
        if (lo < y0) y0 = lo;
        if (hi > y1) y1 = hi;
      }
    }
    this.view = null;
    if (!(x0 <= x1)) {
      this.message(ctx, w, H, d.empty || (logY && series.length ? 'no positive values for a log scale' : 'no data'), theme);
      this.finish(0);
      return;
    }
    // y axis: ticks, then the margin its labels need.
    const yt = logY ? logTicks(y0, y1, Math.max(2, Math.floor(H / 48))) : niceTicks(y0, y1, Math.max(2, Math.floor(H / 48)));
    const fmtY = logY ? fmtFloat : (v) => fmtTick(v, yt.step);
    const yLabels = yt.ticks.map(fmtY);
    let labelWidth = 0;
    for (const label of yLabels) labelWidth = Math.max(labelWidth, ctx.measureText(label).width);
    const left = Math.ceil(labelWidth) + 12 + (d.yLabel ? 14 : 0);
    const top = 10;
    const pw = Math.max(10, w - left - 14);
    const ph = Math.max(10, H - top - 20 - (d.xLabel ? 15 : 0));
    // x axis: categories, clock time or numbers; points get a little room at the edges.
    const cats = d.xCategories;
    let xt;
    if (cats) {
      x0 = -0.5;
      x1 = Math.max(0.5, cats.length - 0.5);
      xt = { step: 1, ticks: cats.map((_, i) => i) };
    } else {
      if (x0 === x1) {
        const pad = x0 === 0 ? 1 : Math.abs(x0) * 0.05;
        x0 -= pad;
        x1 += pad;
      } else if (series.some((s) => s.kind === 'points')) {
        const pad = (x1 - x0) * 0.03;
        x0 -= pad;
        x1 += pad;
      }
      const count = Math.max(2, Math.floor(pw / 90));
      xt = d.xTime ? timeTicks(x0, x1, count) : niceTicks(x0, x1, count);
      const slack = (x1 - x0) * 1e-9;
      xt = { step: xt.step, ticks: xt.ticks.filter((v) => v >= x0 - slack && v <= x1 + slack) };
    }
    const fmtX = cats ? (v) => String(cats[Math.round(v)] ?? '')
      : d.xTime ? (v) => fmtClock(v, xt.step, x1 - x0) : (v) => fmtTick(v, xt.step);
    // Data -> pixels.
    const sx = pw / (x1 - x0);
    const ox = left - x0 * sx;
    const ymin = logY ? Math.log10(yt.min) : yt.min;
    const ymax = logY ? Math.log10(yt.max) : yt.max;
    const sy = ph / (ymax - ymin || 1);
    const oy = top + ph + ymin * sy;
    const X = (v) => ox + v * sx;
    const Y = logY ? (v) => oy - Math.log10(v) * sy : (v) => oy - v * sy;
    this.view = { X, Y, usable, left, top, pw, ph, series, fmtX };
    // Grid, axes, labels.
    ctx.lineWidth = 1;
    ctx.strokeStyle = theme.grid;
    ctx.beginPath();
    for (const v of yt.ticks) { const py = Math.round(Y(v)) + 0.5; ctx.moveTo(left, py); ctx.lineTo(left + pw, py); }
    for (const v of xt.ticks) { const px = Math.round(X(v)) + 0.5; ctx.moveTo(px, top); ctx.lineTo(px, top + ph); }
    ctx.stroke();
    ctx.strokeStyle = theme.border;
    ctx.beginPath();
    ctx.moveTo(left + 0.5, top);
    ctx.lineTo(left + 0.5, top + ph + 0.5);
    ctx.lineTo(left + pw, top + ph + 0.5);
    ctx.stroke();
    ctx.fillStyle = theme.muted;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    yt.ticks.forEach((v, i) => ctx.fillText(yLabels[i], left - 6, Y(v)));
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    let lastRight = -Infinity;
    for (const v of xt.ticks) {
      const label = fmtX(v);
      const half = ctx.measureText(label).width / 2;
      const px = Math.min(Math.max(X(v), half), w - half);
      if (px - half < lastRight + 8) continue;
      ctx.fillText(label, px, top + ph + 5);
      lastRight = px + half;
    }
    if (d.xLabel) {
      ctx.textBaseline = 'bottom';
      ctx.fillText(d.xLabel, left + pw / 2, H - 1);
    }
    if (d.yLabel) {
      ctx.save();
      ctx.translate(10, top + ph / 2);
      ctx.rotate(-Math.PI / 2);
      ctx.textBaseline = 'middle';
      ctx.fillText(d.yLabel, 0, 0);
      ctx.restore();
    }
    // The data, clipped to the plot: bands under lines.
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top - 2, pw + 2, ph + 4);
    ctx.clip();
    for (const s of series) if (s.std) this.band(ctx, s, X, Y, usable, logY);
    let drawn = 0;
    // Lines first, points on top.
    for (const s of series) if (s.kind !== 'points') drawn += this.plot(ctx, s, X, Y, usable, pw);
    for (const s of series) if (s.kind === 'points') drawn += this.plot(ctx, s, X, Y, usable, pw);
    ctx.restore();
    this.finish(drawn);
  }

  // mean ± std as one translucent path (a closed sub-path per gap-free stretch).
  band(ctx, s, X, Y, usable, logY) {
    const { x, y, std } = s;
    const n = Math.min(x.length, y.length, std.length);
    ctx.beginPath();
    let start = -1;
    for (let i = 0; i <= n; i++) {
      const ok = i < n && usable(x[i], y[i]) && Number.isFinite(std[i]);
      if (ok && start < 0) start = i;
      if (ok || start < 0) continue;
      ctx.moveTo(X(x[start]), Y(y[start] + std[start]));
      for (let j = start + 1; j < i; j++) ctx.lineTo(X(x[j]), Y(y[j] + std[j]));
      for (let j = i - 1; j >= start; j--) {
        const lo = y[j] - std[j];
        ctx.lineTo(X(x[j]), Y(logY && lo <= 0 ? y[j] : lo));
      }
      ctx.closePath();
      start = -1;
    }
    ctx.globalAlpha = 0.16;
    ctx.fillStyle = s.color;
    ctx.fill();
    ctx.globalAlpha = 1;
  }

  // One series: a single path of moveTo/lineTo (points: one path of arcs); returns points drawn.
  plot(ctx, s, X, Y, usable, pw) {
    const { x, y } = s;
    const n = Math.min(x.length, y.length);
    const kind = s.kind || 'line';
    let count = 0;
    if (kind === 'points') {
      const r = s.radius || 3;
      ctx.fillStyle = s.color;
      ctx.beginPath();
      for (let i = 0; i < n; i++) {
        if (!usable(x[i], y[i])) continue;
        const px = X(x[i]);
        const py = Y(y[i]);
        if (s.pointColors) {
          // Coloured one by one (few points: search history).
          ctx.fillStyle = s.pointColors[i] || s.color;
          ctx.beginPath();
          ctx.arc(px, py, r, 0, 2 * Math.PI);
          ctx.fill();
        } else {
          ctx.moveTo(px + r, py);
          ctx.arc(px, py, r, 0, 2 * Math.PI);
        }
        count++;
      }
      if (!s.pointColors) ctx.fill();
      return count;
    }
    ctx.strokeStyle = s.color;
    // Dense series (about a point per pixel, as the server sends them) as 1 px lines:
    // hairlines are many times cheaper to rasterize than wider strokes.
    ctx.lineWidth = s.width || (n > pw / 3 ? 1 : 1.5);
    ctx.lineJoin = 'round';
    ctx.setLineDash(s.dash || []);
    ctx.beginPath();
    let pen = false;
    let lastX = 0;
    let lastY = 0;
    for (let i = 0; i < n; i++) {
      const xv = x[i];
      const yv = y[i];
      if (!usable(xv, yv)) { pen = false; continue; }
      const px = X(xv);
      const py = Y(yv);
      if (!pen) ctx.moveTo(px, py);
      else if (Math.abs(px - lastX) < 0.2 && Math.abs(py - lastY) < 0.2) { count++; continue; }
      else {
        if (kind === 'step') ctx.lineTo(px, lastY);
        ctx.lineTo(px, py);
      }
      pen = true;
      lastX = px;
      lastY = py;
      count++;
    }
    if (count === 1) {
      ctx.moveTo(lastX + 2, lastY);
      ctx.arc(lastX, lastY, 2, 0, 2 * Math.PI);
    }
    ctx.stroke();
    ctx.setLineDash([]);
    return count;
  }

  // After each draw: points on the canvas, and the page-wide "drawn" signal when asked for.
  finish(drawn) {
    this.canvas.dataset.points = String(drawn);
    if (this.opts.announce && this.hasData) document.body.dataset.curveDrawn = String(Date.now());
    if (this.mouse) this.hover(this.mouse[0], this.mouse[1]);
  }

  // The tooltip: the point nearest the pointer (within 50 px) over all shown series.
  hover(mx, my) {
    const v = this.view;
    if (!v || mx < v.left - 8 || mx > v.left + v.pw + 8 || my < v.top - 8 || my > v.top + v.ph + 8) { this.hideTip(); return; }
    let best = null;
    let bestD = 2500;
    for (const s of v.series) {
      const { x, y } = s;
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        if (!v.usable(x[i], y[i])) continue;
        const dx = v.X(x[i]) - mx;
        const dy = v.Y(y[i]) - my;
        const dd = dx * dx + dy * dy;
        if (dd < bestD) { bestD = dd; best = [s, i]; }
      }
    }
    if (!best) { this.hideTip(); return; }
    const [s, i] = best;
    const d = this.data;
    const xText = d.xTime ? fmtTime(s.x[i]) : d.xCategories ? v.fmtX(s.x[i]) : fmtNumber(s.x[i]);
    const std = s.std && Number.isFinite(s.std[i]) ? ` ± ${fmtFloat(s.std[i])}` : '';
    const label = s.labels && s.labels[i] != null ? ` <span class="muted">${esc(s.labels[i])}</span>` : '';
    this.showTip(v.X(s.x[i]), v.Y(s.y[i]),
      `<i class="swatch" style="background:${esc(s.color)}"></i><b>${esc(s.name)}</b>${label}<br>` +
      `${esc(d.xLabel || 'x')} ${esc(xText)} · ${esc(d.yLabel || 'y')} <b>${esc(fmtFloat(s.y[i]))}</b>${esc(std)}`);
  }
}

// A viridis-like colour map for t in [0, 1] (missing: grey).
const COLORMAP = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colormap(t) {
  if (!Number.isFinite(t)) return '#9098a6';
  const f = Math.min(1, Math.max(0, t)) * (COLORMAP.length - 1);
  const i = Math.min(COLORMAP.length - 2, Math.floor(f));
  const u = f - i;
  const [a, b] = [COLORMAP[i], COLORMAP[i + 1]];
  return `rgb(${Math.round(a[0] + (b[0] - a[0]) * u)},${Math.round(a[1] + (b[1] - a[1]) * u)},${Math.round(a[2] + (b[2] - a[2]) * u)})`;
}

// The smallest and largest finite numbers of an array (no spread: arrays may be long).
function extent(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!isNum(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

// Shortens text with "…" to fit maxWidth pixels.
function fitText(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ctx.measureText(`${text.slice(0, mid)}…`).width <= maxWidth) lo = mid;
    else hi = mid - 1;
  }
  return `${text.slice(0, lo)}…`;
}

// Parallel coordinates: one vertical axis per column, one line per row, coloured by `color`.
// data = { axes: [{ name, values, categories? }], color: { name, values } | null, labels: [row names], empty }
// Numeric axes are scaled min..max; categorical ones spread their categories evenly.
class ParallelChart extends Surface {
  constructor(container, opts = {}) {
    super(container, opts);
    this.data = null;
    this.hot = -1;
  }

  setData(data) {
    this.data = data;
    this.hot = -1;
    this.normalize();
    this.renderLegend();
    this.draw();
  }

  // Every value as t in [0, 1] (NaN when missing), and each row's colour.
  normalize() {
    const d = this.data;
    if (!d) return;
    this.norm = d.axes.map((axis) => {
      const out = new Float64Array(axis.values.length);
      if (axis.categories) {
        const index = new Map(axis.categories.map((c, i) => [c, i]));
        const last = axis.categories.length - 1;
        axis.values.forEach((v, r) => {
          const k = v == null ? undefined : index.get(String(v));
          out[r] = k === undefined ? NaN : last > 0 ? k / last : 0.5;
        });
      } else {
        [axis.min, axis.max] = extent(axis.values);
        axis.values.forEach((v, r) => {
          out[r] = !isNum(v) ? NaN : axis.max > axis.min ? (v - axis.min) / (axis.max - axis.min) : 0.5;
        });
      }
      return out;
    });
    const colors = d.color ? d.color.values : [];
    const [lo, hi] = extent(colors);
    this.colorRange = [lo, hi];
    this.colors = d.labels.map((_, r) => colormap(isNum(colors[r]) ? (hi > lo ? (colors[r] - lo) / (hi - lo) : 0.5) : NaN));
  }

  renderLegend() {
    const [lo, hi] = this.colorRange || [Infinity, -Infinity];
    this.legend.hidden = !(lo <= hi);
    if (this.legend.hidden) return;
    const gradient = COLORMAP.map((c) => `rgb(${c.join(',')})`).join(',');
    this.legend.replaceChildren(h('span', null, `${this.data.color.name}: ${fmtFloat(lo)}`,
      h('i', { class: 'gradient', style: `width:120px;height:8px;background:linear-gradient(to right,${gradient})` }), fmtFloat(hi)));
  }

  draw() {
    const { ctx, w, h: H, theme } = this.prepare();
    const d = this.data;
    this.geo = null;
    if (!d || !d.axes.length || !d.labels.length) {
      this.message(ctx, w, H, (d && d.empty) || 'no data', theme);
      this.canvas.dataset.points = '0';
      return;
    }
    const m = d.axes.length;
    const rows = d.labels.length;
    const top = 30;
    const bottom = 14;
    const left = 24;
    const right = 80;
    const pw = Math.max(10, w - left - right);
    const ph = Math.max(10, H - top - bottom);
    const xs = d.axes.map((_, k) => (m === 1 ? left + pw / 2 : left + (k * pw) / (m - 1)));
    const Y = (t) => top + (1 - t) * ph;
    // Lines (the hovered one last, thick).
    const line = (r) => {
      ctx.beginPath();
      let pen = false;
      for (let k = 0; k < m; k++) {
        const t = this.norm[k][r];
        if (!Number.isFinite(t)) { pen = false; continue; }
        if (pen) ctx.lineTo(xs[k], Y(t));
        else ctx.moveTo(xs[k], Y(t));
        pen = true;
      }
      ctx.strokeStyle = this.colors[r];
      ctx.stroke();
    };
    ctx.lineWidth = 1.2;
    ctx.globalAlpha = rows > 300 ? 0.35 : 0.75;
    for (let r = 0; r < rows; r++) if (r !== this.hot) line(r);
    ctx.globalAlpha = 1;
    if (this.hot >= 0) { ctx.lineWidth = 3; line(this.hot); }
    // Axes, their names and a few labels.
    ctx.lineWidth = 1;
    ctx.strokeStyle = theme.muted;
    ctx.beginPath();
    for (const x of xs) { ctx.moveTo(Math.round(x) + 0.5, top); ctx.lineTo(Math.round(x) + 0.5, top + ph); }
    ctx.stroke();
    const room = m > 1 ? pw / (m - 1) - 8 : pw;
    d.axes.forEach((axis, k) => {
      ctx.fillStyle = theme.fg;
      ctx.textAlign = k === 0 ? 'left' : k === m - 1 && m > 1 ? 'right' : 'center';
      ctx.textBaseline = 'bottom';
      const nameX = k === 0 ? xs[k] - 10 : k === m - 1 && m > 1 ? Math.min(w - 2, xs[k] + 40) : xs[k];
      ctx.fillText(fitText(ctx, axis.name.replace(/^params\./, ''), Math.max(30, room)), nameX, top - 10);
      ctx.fillStyle = theme.muted;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      const labels = axis.categories
        ? axis.categories.map((c, i) => [c, axis.categories.length > 1 ? i / (axis.categories.length - 1) : 0.5])
        : axis.min <= axis.max ? [[fmtFloat(axis.min), 0], [fmtFloat(axis.max), 1]] : [];
      const every = Math.max(1, Math.ceil(labels.length / Math.max(2, Math.floor(ph / 16))));
      labels.forEach(([text, t], i) => {
        if (i % every !== 0) return;
        const label = fitText(ctx, String(text), Math.min(room, 90));
        ctx.globalAlpha = 0.8;
        ctx.fillStyle = theme.bg;
        ctx.fillRect(xs[k] + 3, Y(t) - 7, ctx.measureText(label).width + 2, 14);
        ctx.globalAlpha = 1;
        ctx.fillStyle = theme.muted;
        ctx.fillText(label, xs[k] + 4, Y(t));
      });
    });
    this.geo = { xs, Y, m, rows };
    this.canvas.dataset.points = String(rows * m);
  }

  // Highlights the line nearest the pointer (between the two axes around it) and shows its values.
  hover(mx, my) {
    const g = this.geo;
    if (!g) return;
    let k = 0;
    while (k < g.m - 2 && mx > g.xs[k + 1]) k++;
    const k2 = Math.min(g.m - 1, k + 1);
    const span = g.xs[k2] - g.xs[k];
    const u = span > 0 ? Math.min(1, Math.max(0, (mx - g.xs[k]) / span)) : 0;
    let best = -1;
    let bestD = 8;
    for (let r = 0; r < g.rows; r++) {
      const a = this.norm[k][r];
      const b = this.norm[k2][r];
      if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
      const dd = Math.abs(g.Y(a + (b - a) * u) - my);
      if (dd < bestD) { bestD = dd; best = r; }
    }
    if (best !== this.hot) { this.hot = best; this.draw(); }
    if (best < 0) { this.hideTip(); return; }
    const d = this.data;
    const lines = d.axes.map((axis) => `${esc(axis.name)} <b>${esc(fmtCell(null, axis.values[best]))}</b>`);
    if (d.color && !d.axes.some((axis) => axis.name === d.color.name)) lines.push(`${esc(d.color.name)} <b>${esc(fmtFloat(d.color.values[best]))}</b>`);
    this.showTip(mx, my, `<b>${esc(d.labels[best])}</b><br>${lines.join('<br>')}`, false);
  }

  unhover() {
    if (this.hot >= 0) { this.hot = -1; this.draw(); }
  }
}

// ---------------------------------------------------------------- 7. views

// ---- 7a. runs: a virtualized table; pages of 200 rows are fetched as they scroll into view.
const ROW_H = 26;             // px, as in app.css (.run-row)
const HEAD_H = 28;            // px, the sticky header
const PAGE = 200;             // rows per request
const OVERSCAN = 10;          // rows rendered above and below the visible ones
const MAX_PAGES = 60;         // pages kept in the cache
const runsMemory = { scrollTop: 0 };   // where the table was, for coming back from a run

function columnWidth(name, kind) {
  if (name === 'id') return 96;
  if (name === 'status') return 124;
  if (name === 'error') return 260;
  const base = { time: 162, duration: 84, float: 92, int: 70, bool: 60 }[kind] || 90;
  const m = /^(params|metrics|tags)\.(.+)$/.exec(name);
  const wanted = m ? m[1].length * 6 + m[2].length * 7 + 30 : name.length * 7 + 24;
  return Math.min(220, Math.max(base, wanted));
}

function viewRuns(root, route, scope) {
  const st = {
    filter: store.get('filter', ''), sort: store.get('sort', null), desc: store.get('desc', false),
    columns: store.get('columns', null),
    gen: 0,                  // request generation: answers of older ones are ignored
    reloading: false, cache: new Map(), pending: new Set(),
    matched: 0, total: 0, shown: null, kinds: new Map(), allColumns: [],
    rows: new Map(),         // row index -> rendered element
    lastIndex: null,         // last ticked row, for shift-click ranges
  };
  const input = h('input', { id: 'filter-input', type: 'search', value: st.filter, spellcheck: 'false', autocomplete: 'off',
    'aria-label': 'filter', placeholder: "filter: status = 'FAILED' and metrics.loss < 0.5 order by metrics.loss" });
  const count = h('span', { id: 'runs-count', class: 'muted' }, 'loading…');
  const columnsButton = h('button', { id: 'columns-button', type: 'button', 'aria-haspopup': 'dialog' }, 'Columns');
  const anchor = h('span', { class: 'popover-anchor' }, columnsButton);
  const clearButton = h('button', { id: 'clear-selection', type: 'button' }, 'Clear selection');
  const compareButton = h('button', { id: 'compare-button', type: 'button', class: 'primary' }, 'Compare selected');
  const filterError = h('pre', { id: 'filter-error', class: 'error-box', hidden: true });
  const head = h('div', { class: 'runs-head', role: 'row' });
  const body = h('div', { class: 'runs-body' });
  const empty = h('div', { class: 'runs-empty empty', hidden: true });
  const table = h('div', { id: 'runs-table', role: 'grid' }, head, body, empty);
  root.append(h('div', { class: 'runs-view' },
    h('div', { class: 'toolbar' }, input, count, anchor, clearButton, compareButton), filterError, table));

  const params = (page) => ({
    experiment: state.experiment || null, filter: st.filter.trim() || null, sort: st.sort || null,
    desc: st.sort && st.desc ? 1 : null, columns: st.columns ? st.columns.join(',') : null,
    offset: page * PAGE, limit: PAGE,
  });
  const fetchPage = (page) => api('/api/runs', params(page));

  // Rows [first, last] that the viewport shows at scroll position `top`.
  const visibleRange = (top = table.scrollTop) => {
    const first = Math.max(0, Math.floor(top / ROW_H));
    return [first, first + Math.ceil(Math.max(table.clientHeight - HEAD_H, ROW_H) / ROW_H)];
  };
  const pagesOf = (first, last) => {
    const pages = [];
    for (let p = Math.floor(first / PAGE); p <= Math.floor(last / PAGE); p++) pages.push(p);
    return pages;
  };

  // A new query, or a refresh: fetch the pages at `top`, then swap them in at once;
  // `keep` leaves the scroll position where the user has it by then.
  function reload(top, keep = false) {
    const gen = ++st.gen;
    st.reloading = true;
    st.pending.clear();
    const [first, last] = visibleRange(top);
    Promise.all(pagesOf(first, last).map((p) => fetchPage(p).then((r) => [p, r]))).then((pages) => {
      if (gen !== st.gen || !scope.alive) return;
      st.reloading = false;
      st.cache = new Map(pages.map(([p, r]) => [p, r.rows || []]));
      clearError();
      applyMeta(pages[0][1]);
      dropRows();
      if (!keep) table.scrollTop = top;
      render();
    }, (error) => {
      if (gen !== st.gen || !scope.alive) return;
      st.reloading = false;
      showError(error);
    });
  }

  // Pages the viewport needs, fetched after scrolling settles (a quick drag fetches nothing).
  function loadVisible() {
    if (st.reloading || !scope.alive) return;
    const [first, last] = visibleRange();
    const gen = st.gen;
    for (const p of pagesOf(first, Math.min(last, st.matched - 1))) {
      if (st.cache.has(p) || st.pending.has(p)) continue;
      st.pending.add(p);
      fetchPage(p).then((r) => {
        if (gen !== st.gen || !scope.alive) return;
        st.pending.delete(p);
        st.cache.set(p, r.rows || []);
        trimCache(p);
        applyMeta(r);
        render();
      }, (error) => {
        if (gen !== st.gen || !scope.alive) return;
        st.pending.delete(p);
        showError(error);
      });
    }
  }
  const loadSoon = debounce(loadVisible, 60);
  scope.add(loadSoon.cancel);

  function trimCache(keep) {
    if (st.cache.size <= MAX_PAGES) return;
    const far = [...st.cache.keys()].sort((a, b) => Math.abs(b - keep) - Math.abs(a - keep));
    for (const p of far.slice(0, st.cache.size - MAX_PAGES)) st.cache.delete(p);
  }

  // Counts, columns and the spacer's height from an answer.
  function applyMeta(r) {
    st.matched = r.matched ?? 0;
    st.total = r.total ?? 0;
    if (Array.isArray(r.columns)) {
      st.allColumns = r.columns;
      st.kinds = new Map(r.columns.map((c) => [c.name, c.kind]));
    }
    const shown = r.shown || [];
    if (!st.shown || shown.join('\n') !== st.shown.join('\n')) {
      st.shown = shown;
      buildHead();
      dropRows();
    }
    body.style.height = `${st.matched * ROW_H}px`;
    const took = isNum(r.took_ms) ? ` · ${r.took_ms < 10 ? r.took_ms.toFixed(1) : Math.round(r.took_ms)} ms` : '';
    count.textContent = `${fmtCount(st.matched)} of ${fmtCount(st.total)} runs${took}`;
    empty.hidden = st.matched > 0;
    empty.replaceChildren(...(st.total === 0
      ? ['No runs recorded yet. Start some with ', h('code', null, 'expman run DIR'), ' in a terminal.']
      : ['No runs match.']));
  }

  function buildHead() {
    const widths = [28, ...st.shown.map((name) => columnWidth(name, st.kinds.get(name)))];
    table.style.setProperty('--cols', widths.map((px) => `${px}px`).join(' '));
    table.style.setProperty('--table-width', `${widths.reduce((a, b) => a + b, 0)}px`);
    head.replaceChildren(h('div', { class: 'check', title: 'tick runs to compare them (shift-click: a range)' }, '✓'),
      ...st.shown.map((name) => {
        const m = /^(params|metrics|tags)\.(.+)$/.exec(name);
        const sorted = st.sort === name;
        return h('div', { 'data-col': name, role: 'columnheader', class: sorted ? 'sorted' : null,
          title: `${name} (${st.kinds.get(name) || '?'}): click to sort` },
        m ? h('span', { class: 'prefix' }, `${m[1]}.`) : null, h('span', { class: 'label' }, m ? m[2] : name),
        sorted ? h('span', { class: 'arrow' }, st.desc ? '▼' : '▲') : null);
      }));
  }

  function rowElement(row, index) {
    const id = String(row[0]);
    const selected = state.selected.has(id);
    const el = document.createElement('div');
    el.className = selected ? 'run-row selected' : 'run-row';
    el.dataset.id = id;
    el.dataset.index = String(index);
    el.style.top = `${index * ROW_H}px`;
    let html = `<div class="check"><input type="checkbox" class="row-check" aria-label="select ${esc(id)}"${selected ? ' checked' : ''}></div>`;
    for (let c = 0; c < st.shown.length; c++) {
      const name = st.shown[c];
      const v = row[c];
      if (name === 'id') html += `<div><a class="run-link mono" href="#/run/${encodeURIComponent(id)}">${esc(id)}</a></div>`;
      else if (name === 'status') html += `<div>${v == null ? '' : `<span class="badge status-${esc(v)}">${esc(v)}</span>`}</div>`;
      else {
        const kind = st.kinds.get(name);
        const text = fmtCell(kind, v);
        const numeric = kind === 'int' || kind === 'float' || kind === 'duration';
        const full = kind === 'float' && typeof v === 'number' ? String(v) : text;
        html += `<div${numeric ? ' class="num"' : ''}${full ? ` title="${esc(full)}"` : ''}>${esc(text)}</div>`;
      }
    }
    el.innerHTML = html;
    return el;
  }

  function placeholder(index) {
    const el = document.createElement('div');
    el.className = 'run-row-placeholder';
    el.style.top = `${index * ROW_H}px`;
    el.innerHTML = '<div></div>'.repeat(st.shown.length + 1);
    return el;
  }

  function dropRows() {
    for (const el of st.rows.values()) el.remove();
    st.rows.clear();
  }

  // Renders the visible rows (plus overscan): rows leaving are removed, placeholders filled in.
  function render() {
    if (!st.shown) return;
    const [first0, last0] = visibleRange();
    const first = Math.max(0, first0 - OVERSCAN);
    const last = Math.min(st.matched - 1, last0 + OVERSCAN);
    for (const [i, el] of st.rows) if (i < first || i > last) { el.remove(); st.rows.delete(i); }
    const fresh = document.createDocumentFragment();
    for (let i = first; i <= last; i++) {
      const page = st.cache.get(Math.floor(i / PAGE));
      const row = page && page[i % PAGE];
      const had = st.rows.get(i);
      if (had && (had.dataset.id || !row)) continue;
      if (had) had.remove();
      const el = row ? rowElement(row, i) : placeholder(i);
      st.rows.set(i, el);
      fresh.append(el);
    }
    body.append(fresh);
    const wanted = pagesOf(first0, Math.min(last0, st.matched - 1));
    if (wanted.some((p) => !st.cache.has(p) && !st.pending.has(p))) loadSoon();
  }

  function showError(error) {
    const invalid = !!(error && error.status === 400 && error.body && error.body.kind === 'filter');
    let text = invalid ? (error.body.rendered || error.message) : (error && error.message) || String(error);
    if (!invalid && st.columns) text += '\n(Columns → "Default columns" resets the column choice.)';
    filterError.textContent = text;
    filterError.hidden = false;
    input.classList.toggle('invalid', invalid);
    if (!st.shown) count.textContent = '';
  }
  function clearError() {
    filterError.hidden = true;
    filterError.textContent = '';
    input.classList.remove('invalid');
  }

  // The filter: Enter applies it at once, typing after a 300 ms pause.
  function applyFilter() {
    applyLater.cancel();
    st.filter = input.value;
    store.set('filter', st.filter);
    reload(0);
  }
  const applyLater = debounce(() => { if (input.value !== st.filter) applyFilter(); }, 300);
  scope.add(applyLater.cancel);
  input.addEventListener('input', () => applyLater());
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') { event.preventDefault(); applyFilter(); }
  });

  // Sorting: a header click sorts by its column; clicking it again flips the direction.
  head.addEventListener('click', (event) => {
    const cell = event.target.closest('[data-col]');
    if (!cell) return;
    const name = cell.dataset.col;
    if (st.sort === name) st.desc = !st.desc;
    else { st.sort = name; st.desc = false; }
    store.set('sort', st.sort);
    store.set('desc', st.desc);
    buildHead();
    reload(0);
  });

  // Selection: the row checkboxes (a click anywhere in the check cell; shift-click ticks a range).
  const setSelected = (id, on) => { if (on) state.selected.add(id); else state.selected.delete(id); };
  function syncSelection() {
    for (const el of st.rows.values()) {
      if (!el.dataset.id) continue;
      const on = state.selected.has(el.dataset.id);
      el.classList.toggle('selected', on);
      const box = el.querySelector('.row-check');
      if (box) box.checked = on;
    }
    const n = state.selected.size;
    compareButton.disabled = n === 0;
    clearButton.disabled = n === 0;
    compareButton.textContent = n ? `Compare selected (${n})` : 'Compare selected';
  }
  body.addEventListener('click', (event) => {
    let box = event.target.closest('.row-check');
    if (!box) {
      const cell = event.target.closest('.check');
      box = cell && cell.querySelector('.row-check');
      if (!box) return;
      box.checked = !box.checked;
    }
    const rowEl = box.closest('.run-row');
    if (!rowEl) return;
    const index = Number(rowEl.dataset.index);
    if (event.shiftKey && st.lastIndex != null) {
      for (let i = Math.min(st.lastIndex, index); i <= Math.max(st.lastIndex, index); i++) {
        const page = st.cache.get(Math.floor(i / PAGE));
        const row = page && page[i % PAGE];
        if (row) setSelected(String(row[0]), box.checked);
      }
    } else setSelected(rowEl.dataset.id, box.checked);
    st.lastIndex = index;
    saveSelection();
    syncSelection();
  });
  clearButton.addEventListener('click', () => { state.selected.clear(); saveSelection(); syncSelection(); });
  compareButton.addEventListener('click', () => { location.hash = compareHref([...state.selected]); });

  // The columns chooser: every column, a box to narrow the list; id and status stay first.
  let popover = null;
  function closeChooser() {
    if (!popover) return;
    popover.remove();
    popover = null;
    columnsButton.setAttribute('aria-expanded', 'false');
  }
  function openChooser() {
    if (popover) { closeChooser(); return; }
    const narrow = h('input', { type: 'search', placeholder: 'narrow the list…', 'aria-label': 'narrow the columns' });
    const list = h('div', { class: 'col-list' });
    const fill = () => {
      const q = narrow.value.trim().toLowerCase();
      const chosen = new Set(st.columns || st.shown || []);
      const matches = st.allColumns.filter((c) => !q || c.name.toLowerCase().includes(q));
      list.replaceChildren(...matches.slice(0, 500).map((c) => h('label', null,
        h('input', { type: 'checkbox', 'data-name': c.name, checked: chosen.has(c.name), disabled: c.name === 'id' || c.name === 'status' }),
        c.name, h('span', { class: 'kind' }, c.kind))));
      if (matches.length > 500) list.append(h('p', { class: 'muted' }, `${matches.length - 500} more: narrow the list`));
      if (!matches.length) list.append(h('p', { class: 'muted' }, 'no column matches'));
    };
    list.addEventListener('change', (event) => {
      const box = event.target.closest('input[data-name]');
      if (!box) return;
      const name = box.dataset.name;
      const rest = (st.columns || st.shown || []).filter((c) => c !== 'id' && c !== 'status' && c !== name);
      if (box.checked) rest.push(name);
      st.columns = ['id', 'status', ...rest];
      store.set('columns', st.columns);
      reload(table.scrollTop, true);
    });
    narrow.addEventListener('input', fill);
    narrow.addEventListener('keydown', (event) => { if (event.key === 'Escape') closeChooser(); });
    const reset = () => {
      st.columns = null;
      store.set('columns', null);
      closeChooser();
      reload(table.scrollTop, true);
    };
    popover = h('div', { class: 'popover', id: 'columns-chooser', role: 'dialog', 'aria-label': 'columns' }, narrow, list,
      h('div', { class: 'row' }, h('button', { type: 'button', onclick: reset }, 'Default columns'),
        h('button', { type: 'button', onclick: closeChooser }, 'Close')));
    anchor.append(popover);
    columnsButton.setAttribute('aria-expanded', 'true');
    fill();
    narrow.focus();
  }
  columnsButton.addEventListener('click', openChooser);
  scope.listen(document, 'mousedown', (event) => { if (popover && !anchor.contains(event.target)) closeChooser(); });

  // Scrolling renders on the next frame; resizing too.
  let frame = 0;
  table.addEventListener('scroll', () => {
    runsMemory.scrollTop = table.scrollTop;
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; safely(render); });
  });
  scope.add(() => cancelAnimationFrame(frame));
  if (typeof ResizeObserver !== 'undefined') {
    const resizer = new ResizeObserver(() => safely(render));
    resizer.observe(table);
    scope.add(() => resizer.disconnect());
  }

  // The record changed: refetch what is in view (at most once per 2 s), keeping the scroll position.
  const refresh = throttle(() => { if (scope.alive) reload(table.scrollTop, true); }, 2000);
  scope.add(refresh.cancel);

  syncSelection();
  reload(runsMemory.scrollTop);
  return {
    onRecord: refresh,
    onExperiment: () => { runsMemory.scrollTop = 0; reload(0); },
  };
}

// ---- 7b. run: one run's header, params, metrics (click: its curve), tags, config, logs,
// artifacts, hardware; refreshed on `live` events while it runs.
const GiB = 1024 * 1024 * 1024;
const someFinite = (values) => Array.isArray(values) && values.some((v) => isNum(v));

function kvTable(pairs, id) {
  const rows = pairs.filter(([, v]) => v != null && v !== '').map(([k, v]) => h('tr', null, h('td', null, k), h('td', null, v)));
  return rows.length ? h('table', { class: 'kv', id }, h('tbody', null, rows)) : h('p', { class: 'muted', id }, 'none');
}

function viewRun(root, route, scope) {
  const id = route.id || '';
  const path = `/api/runs/${encodeURIComponent(id)}`;
  let run = null;
  let metricKey = null;
  let curveChart = null;
  let hwCharts = null;
  let logStream = 'stdout';
  let hardwareAt = 0;
  const charts = [];
  scope.add(() => charts.forEach((c) => c.destroy()));
  root.replaceChildren(h('p', { class: 'loading' }, `Loading run ${id}…`));

  const statusBadge = h('span', { id: 'run-status', class: 'badge' });
  const stopButton = h('button', { id: 'run-stop', type: 'button', class: 'danger', hidden: true }, 'Stop');
  const message = h('span', { id: 'run-message', class: 'muted' });
  const errorHolder = h('div', { id: 'run-error-holder' });
  const info = h('div', { id: 'run-info' });
  const metricsBody = h('tbody');
  const curveBox = h('div', { class: 'chart short', id: 'run-curve-box' });
  const curveNote = h('p', { class: 'chart-note muted' }, 'Click a metric to draw its curve.');
  const logPre = h('pre', { id: 'run-log', class: 'box' }, '…');
  const logNote = h('p', { class: 'chart-note muted' });
  const hwHolder = h('div', { id: 'run-hardware' }, h('p', { class: 'muted' }, 'loading…'));

  api(path).then((r) => {
    if (!scope.alive) return;
    run = r;
    build();
  }, (error) => {
    if (!scope.alive) return;
    root.replaceChildren(h('h1', null, `Run ${id}`), errorBox(error), h('p', null, h('a', { href: '#/runs' }, '← back to the runs')));
  });

  function updateHeader() {
    statusBadge.className = `badge status-${run.status}`;
    statusBadge.textContent = run.status || '?';
    stopButton.hidden = !isActive(run.status);
    errorHolder.replaceChildren(...(run.error ? [h('div', { class: 'error-box', id: 'run-error' }, run.error)] : []));
    const ended = isNum(run.ended_at) ? run.ended_at : isActive(run.status) ? Date.now() : null;
    const git = run.git_commit ? `${run.git_commit}${run.git_dirty ? ' (dirty)' : ''}` : null;
    info.replaceChildren(kvTable([
      ['created', fmtTime(run.created_at)], ['started', fmtTime(run.started_at)], ['ended', fmtTime(run.ended_at)],
      ['duration', isNum(run.started_at) && ended != null ? fmtDuration(ended - run.started_at) : ''],
      ['host', run.host], ['seed', run.seed], ['exit code', run.exit_code],
      ['command', run.command ? h('code', null, Array.isArray(run.command) ? run.command.join(' ') : String(run.command)) : null],
      ['git', git ? h('code', null, git) : null], ['run dir', run.run_dir ? h('code', null, run.run_dir) : null],
    ], 'run-info-table'));
  }

  function updateMetrics() {
    const metrics = run.metrics || [];
    metricsBody.replaceChildren(...metrics.map((m) => h('tr', { class: `metric-row${m.key === metricKey ? ' active' : ''}`, 'data-key': m.key, title: 'click: draw its curve' },
      h('td', { class: 'mono' }, m.key), h('td', { class: 'num' }, fmtFloat(m.last)), h('td', { class: 'num' }, fmtFloat(m.min)),
      h('td', { class: 'num' }, fmtFloat(m.max)), h('td', { class: 'num' }, fmtCount(m.count)))));
    if (!metrics.length) metricsBody.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'no metrics recorded')));
  }

  function build() {
    const section = (title, ...content) => h('section', null, h('h2', null, title), ...content);
    const artifacts = run.artifacts || [];
    root.replaceChildren(
      h('div', { class: 'run-head' }, h('h1', { class: 'mono' }, run.id || id),
        h('span', { class: 'sub' }, `${run.trial ?? ''} #${run.repeat ?? ''} · ${run.experiment ?? ''}`),
        statusBadge, stopButton, message),
      errorHolder, info,
      h('div', { class: 'columns2' },
        section('Params', (run.params || []).length
          ? h('table', { class: 'grid', id: 'run-params' }, h('thead', null, h('tr', null, h('th', null, 'key'), h('th', null, 'value'))),
            h('tbody', null, run.params.map((p) => h('tr', null, h('td', { class: 'mono' }, p.key), h('td', { class: 'mono' }, fmtCell(null, p.value))))))
          : h('p', { class: 'muted', id: 'run-params' }, 'none')),
        section('Metrics', h('table', { class: 'grid', id: 'run-metrics' },
          h('thead', null, h('tr', null, h('th', null, 'key'), h('th', { class: 'num' }, 'last'), h('th', { class: 'num' }, 'min'),
            h('th', { class: 'num' }, 'max'), h('th', { class: 'num' }, 'count'))), metricsBody), curveBox, curveNote)),
      h('div', { class: 'columns2' },
        section('Tags', kvTable((run.tags || []).map((t) => [t.key, t.value]), 'run-tags')),
        section('Artifacts', artifacts.length
          ? h('ul', { class: 'plain', id: 'run-artifacts' }, artifacts.map((a) => h('li', null,
            h('a', { href: a.url, download: String(a.path || '').split('/').pop() || 'artifact', title: a.sha256 ? `sha256 ${a.sha256}` : null }, a.path || a.url),
            h('span', { class: 'artifact-size' }, [a.kind, fmtBytes(a.size)].filter(Boolean).join(' · ')))))
          : h('p', { class: 'muted', id: 'run-artifacts' }, 'none recorded'))),
      section('Logs', h('div', { class: 'tabs', id: 'run-log-tabs' },
        ['stdout', 'stderr'].map((s) => h('button', { type: 'button', 'data-stream': s, class: s === logStream ? 'active' : null }, s)),
        h('span', { class: 'spacer' }), h('button', { type: 'button', class: 'small', id: 'run-log-refresh', onclick: () => loadLog() }, 'refresh')),
      logPre, logNote),
      section('Hardware', hwHolder),
      section('Resolved config', h('pre', { id: 'run-config', class: 'box' }, JSON.stringify(run.config ?? null, null, 2))));
    updateHeader();
    updateMetrics();
    metricsBody.addEventListener('click', (event) => {
      const row = event.target.closest('tr[data-key]');
      if (row) { metricKey = row.dataset.key; updateMetrics(); drawCurve(); }
    });
    root.querySelector('#run-log-tabs').addEventListener('click', (event) => {
      const tab = event.target.closest('button[data-stream]');
      if (!tab) return;
      logStream = tab.dataset.stream;
      tab.parentElement.querySelectorAll('button[data-stream]').forEach((b) => b.classList.toggle('active', b === tab));
      loadLog();
    });
    stopButton.addEventListener('click', stop);
    const keys = (run.metrics || []).map((m) => m.key);
    metricKey = ['val_loss', 'loss'].find((k) => keys.includes(k)) || keys[0] || null;
    if (metricKey) { updateMetrics(); drawCurve(); }
    loadLog();
    loadHardware();
  }

  const curveSeq = { n: 0 };
  function drawCurve() {
    if (!metricKey) return;
    const seq = ++curveSeq.n;
    if (!curveChart) { curveChart = new LineChart(curveBox, { id: 'run-curve', announce: true, label: 'metric curve' }); charts.push(curveChart); }
    const width = Math.round(curveChart.canvas.clientWidth || 600);
    api('/api/curves', { runs: id, key: metricKey, width }).then((r) => {
      if (!scope.alive || seq !== curveSeq.n) return;
      const curves = r.curves || [];
      curveChart.setData({ series: curves.map((c, i) => ({ name: c.name || metricKey, color: seriesColor(i), x: c.x || [], y: c.y || [], std: c.std || null })),
        xLabel: r.x || 'step', yLabel: metricKey, legend: false });
      curveNote.textContent = `${metricKey}: ${fmtCount(r.points_sent)} of ${fmtCount(r.points_total)} points`;
    }, (error) => {
      if (!scope.alive || seq !== curveSeq.n) return;
      curveChart.setData({ series: [], empty: 'no curve' });
      curveNote.replaceChildren(errorBox(error));
    });
  }

  function loadLog() {
    const stream = logStream;
    api(`${path}/log`, { stream, tail: 200 }).then((r) => {
      if (!scope.alive || stream !== logStream) return;
      const lines = r.lines || [];
      logPre.classList.remove('error-text');
      logPre.textContent = lines.length ? lines.join('\n') : `(${stream} is empty)`;
      logPre.scrollTop = logPre.scrollHeight;
      logNote.textContent = r.truncated ? `the last ${lines.length} lines of ${stream}` : '';
    }, (error) => {
      if (!scope.alive || stream !== logStream) return;
      logPre.classList.add('error-text');
      logPre.textContent = error.message;
      logNote.textContent = '';
    });
  }

  // CPU % (and GPU % when recorded) and memory over time: two small charts.
  function loadHardware() {
    hardwareAt = Date.now();
    api(`${path}/hardware`).then((r) => {
      if (!scope.alive) return;
      const t = r.t || [];
      if (!t.length) { hwHolder.replaceChildren(h('p', { class: 'muted' }, 'no hardware samples recorded')); hwCharts = null; return; }
      if (!hwCharts) {
        const cpuBox = h('div', { class: 'chart short' });
        const memBox = h('div', { class: 'chart short' });
        hwHolder.replaceChildren(h('div', { class: 'columns2' },
          h('div', null, h('h3', null, 'CPU / GPU %'), cpuBox), h('div', null, h('h3', { id: 'hw-mem-title' }, 'Memory'), memBox)));
        hwCharts = [new LineChart(cpuBox, { id: 'hw-cpu', label: 'CPU and GPU use' }), new LineChart(memBox, { id: 'hw-mem', label: 'memory use' })];
        charts.push(...hwCharts);
      }
      const gib = (values) => (values || []).map((b) => (isNum(b) ? b / GiB : null));
      const cpu = [{ name: 'CPU %', color: seriesColor(0), x: t, y: r.cpu_percent || [] }];
      if (someFinite(r.gpu_percent)) cpu.push({ name: 'GPU %', color: seriesColor(1), x: t, y: r.gpu_percent });
      const mem = [{ name: 'memory used', color: seriesColor(2), x: t, y: gib(r.mem_used) }];
      if (someFinite(r.gpu_mem)) mem.push({ name: 'GPU memory', color: seriesColor(1), x: t, y: gib(r.gpu_mem) });
      const totals = (r.mem_total || []).filter(isNum);
      const title = hwHolder.querySelector('#hw-mem-title');
      if (title) title.textContent = `Memory (GiB${totals.length ? ` of ${fmtBytes(totals[totals.length - 1])}` : ''})`;
      hwCharts[0].setData({ series: cpu, xTime: true, yLabel: '%', legend: true });
      hwCharts[1].setData({ series: mem, xTime: true, yLabel: 'GiB', legend: true });
    }, (error) => {
      if (scope.alive && !hwCharts) hwHolder.replaceChildren(errorBox(error));
    });
  }

  // Stop: asks the run's runner; the answer's message is shown next to the button.
  async function stop() {
    stopButton.disabled = true;
    message.className = 'muted';
    message.textContent = 'asking…';
    try {
      const r = await post(`${path}/stop`);
      if (!scope.alive) return;
      message.textContent = r.message || 'asked to stop';
    } catch (error) {
      if (!scope.alive) return;
      message.className = 'error-text';
      message.textContent = error.message;
    } finally {
      stopButton.disabled = false;
    }
    refresh();
  }

  // While it runs: status, metrics, the shown curve (hardware every 10 s) follow `live` events.
  function update() {
    api(path).then((r) => {
      if (!scope.alive || !run) return;
      const wasActive = isActive(run.status);
      run = r;
      updateHeader();
      updateMetrics();
      if (metricKey) drawCurve();
      if (Date.now() - hardwareAt > 10000 || !isActive(r.status)) loadHardware();
      if (wasActive && !isActive(r.status)) loadLog();
    }, () => { /* a failed refresh keeps what is shown */ });
  }
  const refresh = throttle(update, 2000);
  scope.add(refresh.cancel);
  return { onLive: () => { if (run && isActive(run.status)) refresh(); } };
}

// ---- 7c. compare: one metric's curves over the chosen runs, a param-vs-metric scatter and
// parallel coordinates over the params that vary.
const naturalCompare = (a, b) => a.localeCompare(b, undefined, { numeric: true });
const distinct = (values) => [...new Set(values.filter((v) => v != null).map(String))].sort(naturalCompare);

function viewCompare(root, route, scope) {
  let ids = (route.params.get('runs') || '').split(',').map((s) => s.trim()).filter(Boolean);
  if (!ids.length && !route.params.has('runs')) ids = [...state.selected];
  ids = [...new Set(ids)];
  if (!ids.length) {
    root.replaceChildren(h('h1', null, 'Compare'), h('div', { class: 'notice', id: 'compare-empty' },
      'No runs selected. Tick the checkboxes of some runs in ', h('a', { href: '#/runs' }, 'Runs'),
      ', then press “Compare selected” (or the Compare link above).'));
    return {};
  }
  const runsParam = ids.join(',');
  const prefs = store.get('compare', {});
  const select = (id, options, value) => {
    const el = h('select', { id }, options.map(([v, text]) => h('option', { value: v }, text)));
    if (value != null) el.value = value;
    return el;
  };
  const metricPicker = h('select', { id: 'metric-picker' }, h('option', { value: '' }, 'loading…'));
  const xPicker = select('x-picker', [['step', 'step'], ['epoch', 'epoch'], ['time', 'time']], prefs.x || 'step');
  const byPicker = select('by-picker', [['run', 'each run'], ['trial', 'trial mean ± std']], prefs.by || 'run');
  const logBox = h('input', { type: 'checkbox', id: 'log-scale', checked: !!prefs.log });
  const curveBox = h('div', { class: 'chart tall' });
  const curveNote = h('p', { class: 'chart-note muted', id: 'curve-note' });
  const curveError = h('div');
  const scatterX = h('select', { id: 'scatter-x' });
  const scatterY = h('select', { id: 'scatter-y' });
  const scatterBox = h('div', { class: 'chart' });
  const scatterNote = h('p', { class: 'chart-note muted' });
  const parallelBox = h('div', { class: 'chart' });
  const parallelNote = h('p', { class: 'chart-note muted' });
  const tableError = h('div');
  const chips = h('div', { class: 'chips', id: 'compare-runs' },
    ids.slice(0, 40).map((rid) => h('span', { class: 'chip', 'data-id': rid }, runLink(rid),
      h('button', { type: 'button', title: 'leave out of the comparison', 'data-remove': rid }, '×'))),
    ids.length > 40 ? h('span', { class: 'muted' }, `and ${ids.length - 40} more`) : null);
  root.replaceChildren(
    h('div', { class: 'view-head' }, h('h1', null, `Compare ${ids.length} run${ids.length === 1 ? '' : 's'}`)), chips,
    h('div', { class: 'panel' }, h('div', { class: 'toolbar' }, h('label', null, 'metric', metricPicker), h('label', null, 'x', xPicker),
      h('label', null, 'by', byPicker), h('label', null, logBox, 'log scale')), curveError, curveBox, curveNote),
    tableError,
    h('div', { class: 'panel' }, h('h2', null, 'Param vs metric'),
      h('div', { class: 'toolbar' }, h('label', null, 'x', scatterX), h('label', null, 'y', scatterY)), scatterBox, scatterNote),
    h('div', { class: 'panel' }, h('h2', null, 'Parallel coordinates'), parallelBox, parallelNote));
  const curveChart = new LineChart(curveBox, { id: 'curve-chart', announce: true, label: 'metric curves' });
  const scatterChart = new LineChart(scatterBox, { id: 'scatter-chart', label: 'param against metric' });
  const parallelChart = new ParallelChart(parallelBox, { id: 'parallel-chart', label: 'parallel coordinates' });
  scope.add(() => [curveChart, scatterChart, parallelChart].forEach((c) => c.destroy()));
  const savePrefs = () => store.set('compare', { metric: metricPicker.value, x: xPicker.value, by: byPicker.value,
    log: logBox.checked, scatterX: scatterX.value, scatterY: yTouched ? scatterY.value : prefs.scatterY });

  chips.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-remove]');
    if (!button) return;
    state.selected.delete(button.dataset.remove);
    saveSelection();
    location.hash = compareHref(ids.filter((x) => x !== button.dataset.remove));
  });

  // Curves: one request per change; older answers are dropped.
  let curveSeq = 0;
  function drawCurves() {
    const key = metricPicker.value;
    if (!key) return;
    const seq = ++curveSeq;
    const width = Math.round(curveChart.canvas.clientWidth || 900);
    curveNote.textContent = 'loading…';
    api('/api/curves', { runs: runsParam, key, x: xPicker.value, by: byPicker.value, width }).then((r) => {
      if (!scope.alive || seq !== curveSeq) return;
      curveError.replaceChildren();
      const curves = r.curves || [];
      const firstX = curves.map((c) => (c.x || []).find(isNum)).find(isNum);
      curveChart.setData({
        series: curves.map((c, i) => ({ name: c.name || c.run || c.trial || `curve ${i + 1}`, color: seriesColor(i),
          x: c.x || [], y: c.y || [], std: c.std || null })),
        xLabel: r.x || xPicker.value, yLabel: key, logY: logBox.checked,
        xTime: xPicker.value === 'time' && firstX > 1e11, empty: `no ${key} values to draw`,
      });
      curveNote.textContent = `${curves.length} curve${curves.length === 1 ? '' : 's'} · ` +
        `${fmtCount(r.points_sent)} of ${fmtCount(r.points_total)} points`;
    }, (error) => {
      if (!scope.alive || seq !== curveSeq) return;
      curveError.replaceChildren(errorBox(error));
      curveNote.textContent = '';
      curveChart.setData({ series: [], empty: 'no curves' });
    });
  }

  api('/api/metric-keys', { runs: runsParam }).then((r) => {
    if (!scope.alive) return;
    const keys = r.keys || [];
    metricPicker.replaceChildren(...keys.map((k) => h('option', { value: k }, k)));
    if (!keys.length) {
      metricPicker.append(h('option', { value: '' }, 'no metrics'));
      curveChart.setData({ series: [], empty: 'these runs recorded no metrics' });
      return;
    }
    metricPicker.value = keys.includes(prefs.metric) ? prefs.metric : ['val_loss', 'loss'].find((k) => keys.includes(k)) || keys[0];
    drawCurves();
    if (table.rows) { syncScatterY(); drawScatter(); drawParallel(); }
  }, (error) => {
    if (!scope.alive) return;
    curveError.replaceChildren(errorBox(error));
    curveChart.setData({ series: [], empty: 'no metrics' });
  });

  // The runs' params and metrics as a table, for the scatter and parallel coordinates.
  const table = { rows: null, index: new Map(), params: [], metrics: [] };
  const column = (name) => {
    const i = table.index.get(name);
    return i == null ? table.rows.map(() => null) : table.rows.map((row) => row[i]);
  };
  api('/api/runs', { runs: runsParam, limit: 1 }).then((first) => {
    if (!scope.alive) return null;
    const names = (first.columns || []).map((c) => c.name);
    const params = names.filter((n) => n.startsWith('params.'));
    const metrics = names.filter((n) => n.startsWith('metrics.'));
    return api('/api/runs', { runs: runsParam, columns: ['id', 'status', 'trial', ...params, ...metrics].join(','), limit: 100000 });
  }).then((r) => {
    if (!scope.alive || !r) return;
    table.rows = r.rows || [];
    table.index = new Map((r.shown || []).map((n, i) => [n, i]));
    table.params = (r.shown || []).filter((n) => n.startsWith('params.'));
    table.metrics = (r.shown || []).filter((n) => n.startsWith('metrics.'));
    const varying = table.params.filter((n) => distinct(column(n)).length > 1);
    const xs = [...varying, ...table.params.filter((n) => !varying.includes(n))];
    scatterX.replaceChildren(...xs.map((n) => h('option', { value: n }, n)));
    scatterY.replaceChildren(...table.metrics.map((n) => h('option', { value: n }, n)));
    if (xs.includes(prefs.scatterX)) scatterX.value = prefs.scatterX;
    if (table.metrics.includes(prefs.scatterY)) { scatterY.value = prefs.scatterY; yTouched = true; } else syncScatterY();
    drawScatter();
    drawParallel();
  }).catch((error) => {
    if (!scope.alive) return;
    tableError.replaceChildren(errorBox(error));
    scatterChart.setData({ series: [], empty: 'no data' });
    parallelChart.setData(null);
  });

  // The scatter's y follows the chosen metric until the user picks another.
  let yTouched = false;
  function syncScatterY() {
    const name = `metrics.${metricPicker.value}`;
    if (!yTouched && table.metrics.includes(name)) scatterY.value = name;
  }

  // One param (x) against one metric (y); a colour per trial; text params as categories.
  function drawScatter() {
    if (!table.rows) return;
    const xName = scatterX.value;
    const yName = scatterY.value;
    if (!xName || !yName) {
      scatterChart.setData({ series: [], empty: table.params.length ? 'no metrics to plot' : 'these runs have no params' });
      scatterNote.textContent = '';
      return;
    }
    const xs = column(xName);
    const ys = column(yName);
    const trials = column('trial');
    const runIds = column('id');
    // Text params, and numbers with few values (lr 1e-4 … 0.1), as evenly spaced categories.
    let cats = null;
    let xv = xs;
    const numeric = xs.every((v) => v == null || typeof v === 'number');
    const values = numeric ? [...new Set(xs.filter(isNum))].sort((a, b) => a - b) : null;
    if (!numeric || values.length <= 12) {
      cats = numeric ? values.map(fmtNumber) : distinct(xs);
      const at = new Map(numeric ? values.map((v, i) => [v, i]) : cats.map((c, i) => [c, i]));
      xv = xs.map((v) => (v == null ? null : at.get(numeric ? v : String(v)) ?? null));
    }
    const groups = new Map();
    let both = 0;
    xs.forEach((_, r) => {
      const trial = trials[r] == null ? '(no trial)' : String(trials[r]);
      if (!groups.has(trial)) groups.set(trial, { x: [], y: [], labels: [] });
      const g = groups.get(trial);
      g.x.push(xv[r]);
      g.y.push(ys[r]);
      g.labels.push(String(runIds[r]));
      if (isNum(xv[r]) && isNum(ys[r])) both++;
    });
    scatterChart.setData({
      series: [...groups].map(([name, g], i) => ({ name, color: seriesColor(i), kind: 'points', ...g })),
      xLabel: xName, yLabel: yName, xCategories: cats, empty: 'no run has both values',
    });
    scatterNote.textContent = `${both} of ${table.rows.length} runs have both values`;
  }

  // Up to 8 params that vary, then the chosen metric; lines coloured by the metric.
  function drawParallel() {
    if (!table.rows) return;
    const varying = table.params.filter((n) => distinct(column(n)).length > 1);
    const axes = varying.slice(0, 8).map((name) => {
      const values = column(name);
      return values.every((v) => v == null || typeof v === 'number') ? { name, values } : { name, values, categories: distinct(values) };
    });
    const metricName = `metrics.${metricPicker.value}`;
    const hasMetric = metricPicker.value && table.index.has(metricName);
    if (axes.length && hasMetric) axes.push({ name: metricName, values: column(metricName) });
    parallelChart.setData({
      axes, labels: column('id').map(String),
      color: hasMetric ? { name: metricName, values: column(metricName) } : null,
      empty: table.params.length ? 'no param varies among these runs' : 'these runs have no params',
    });
    parallelNote.textContent = varying.length > 8 ? `the first 8 of ${varying.length} params that vary` : '';
  }

  metricPicker.addEventListener('change', () => { savePrefs(); drawCurves(); syncScatterY(); drawScatter(); drawParallel(); });
  xPicker.addEventListener('change', () => { savePrefs(); drawCurves(); });
  byPicker.addEventListener('change', () => { savePrefs(); drawCurves(); });
  logBox.addEventListener('change', () => {
    savePrefs();
    curveChart.data.logY = logBox.checked;
    curveChart.draw();
  });
  scatterX.addEventListener('change', () => { savePrefs(); drawScatter(); });
  scatterY.addEventListener('change', () => { yTouched = true; savePrefs(); drawScatter(); });

  // Runs still going: their curves follow the record (at most every 5 s).
  const refresh = throttle(() => {
    const status = table.rows ? column('status') : [];
    if (scope.alive && status.some(isActive)) drawCurves();
  }, 5000);
  scope.add(refresh.cancel);
  return { onRecord: refresh };
}

// ---- 7d. live: the runs going on (from `live` events), and those that ended lately.
function viewLive(root, route, scope) {
  const message = h('div', { id: 'live-message' });
  const summary = h('span', { class: 'muted', id: 'live-summary' });
  const emptyBox = h('div', { class: 'empty', id: 'live-empty', hidden: true },
    'Nothing is running. Start runs with ', h('code', null, 'expman run DIR'), ' in a terminal; they appear here.');
  const headers = ['run', 'experiment', 'trial', 'status', 'epoch', 'metrics', 'CPU', 'memory', 'GPU', 'elapsed'];
  const makeTable = (id, stop) => h('table', { class: 'grid', id },
    h('thead', null, h('tr', null, headers.map((t) => h('th', { class: ['epoch', 'CPU', 'memory', 'GPU', 'elapsed'].includes(t) ? 'num' : null }, t)),
      stop ? h('th', null, '') : null)), h('tbody'));
  const liveTable = makeTable('live-table', true);
  const recentTable = makeTable('live-recent', false);
  const recentEmpty = h('p', { class: 'muted', id: 'live-recent-empty' }, 'none lately');
  root.replaceChildren(h('div', { class: 'view-head' }, h('h1', null, 'Live'), summary), message, emptyBox, liveTable,
    h('h2', null, 'Recently ended'), recentTable, recentEmpty);
  let fromEvents = false;

  // The cells of one row, as HTML; only those that changed are rewritten (the Stop button stays put).
  function cells(run, stop) {
    const metrics = Object.entries(run.metrics || {}).slice(0, 6).map(([k, v]) => `${k} ${fmtNumber(v)}`).join(' · ');
    const ended = isNum(run.ended_at) ? run.ended_at : null;
    const elapsed = isNum(run.started_at) ? fmtDuration((ended ?? Date.now()) - run.started_at) : '';
    const list = [
      `<a class="run-link mono" href="#/run/${encodeURIComponent(run.id)}">${esc(run.id)}</a>`,
      esc(run.experiment), `${esc(run.trial)} <span class="muted">#${esc(run.repeat)}</span>`,
      `<span class="badge live-status status-${esc(run.status)}" data-id="${esc(run.id)}">${esc(run.status)}</span>`,
      esc(run.epoch ?? ''), `<span class="live-metrics" title="${esc(metrics)}">${esc(metrics)}</span>`,
      esc(fmtPercent(run.cpu_percent)), esc(fmtBytes(run.mem_used)), esc(fmtPercent(run.gpu_percent)),
      `<span class="elapsed"${isNum(run.started_at) && ended == null && stop ? ` data-started="${run.started_at}"` : ''}>${esc(elapsed)}</span>`,
    ];
    if (stop) list.push(`<button type="button" class="small danger stop-button" data-id="${esc(run.id)}">Stop</button>`);
    return list;
  }

  const NUMERIC = new Set([4, 6, 7, 8, 9]);
  function fill(tbody, runs, stop) {
    const existing = new Map([...tbody.rows].map((tr) => [tr.dataset.run, tr]));
    const wanted = runs.map((run) => {
      const id = String(run.id);
      let tr = existing.get(id);
      existing.delete(id);
      const html = cells(run, stop);
      if (!tr) {
        tr = h('tr', { 'data-run': id });
        html.forEach((_, i) => tr.append(h('td', { class: NUMERIC.has(i) ? 'num' : null })));
      }
      html.forEach((text, i) => {
        const td = tr.cells[i];
        if (td && td.dataset.html !== text) { td.dataset.html = text; td.innerHTML = text; }
      });
      return tr;
    });
    for (const tr of existing.values()) tr.remove();
    wanted.forEach((tr, i) => { if (tbody.rows[i] !== tr) tbody.insertBefore(tr, tbody.rows[i] || null); });
  }

  function render(data) {
    const runs = (data && data.runs) || [];
    const recent = (data && data.recent) || [];
    fill(liveTable.tBodies[0], runs, true);
    fill(recentTable.tBodies[0], recent, false);
    liveTable.hidden = !runs.length;
    emptyBox.hidden = runs.length > 0;
    recentTable.hidden = !recent.length;
    recentEmpty.hidden = recent.length > 0;
    summary.textContent = runs.length ? `${runs.length} running` : '';
  }

  // Elapsed times tick every second between events.
  scope.interval(() => {
    for (const span of liveTable.querySelectorAll('.elapsed[data-started]')) {
      span.textContent = fmtDuration(Date.now() - Number(span.dataset.started));
    }
  }, 1000);

  liveTable.addEventListener('click', async (event) => {
    const button = event.target.closest('.stop-button');
    if (!button) return;
    const id = button.dataset.id;
    button.disabled = true;
    try {
      const r = await post(`/api/runs/${encodeURIComponent(id)}/stop`);
      if (scope.alive) message.replaceChildren(h('div', { class: 'notice' }, r.message || `asked run ${id} to stop`));
    } catch (error) {
      if (scope.alive) message.replaceChildren(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });

  render(null);
  emptyBox.hidden = true;
  summary.textContent = 'loading…';
  api('/api/live').then((data) => {
    if (scope.alive && !fromEvents) render(data);
  }, (error) => {
    if (!scope.alive || fromEvents) return;
    summary.textContent = '';
    message.replaceChildren(errorBox(error));
  });
  return { onLive: (data) => { fromEvents = true; render(data); } };
}

// ---- 7e. search: each search's progress, best, value per suggestion, param importance.
function viewSearch(root, route, scope) {
  let charts = [];
  const dropCharts = () => { charts.forEach((c) => c.destroy()); charts = []; };
  scope.add(dropCharts);
  const list = h('div', { id: 'search-list' }, h('p', { class: 'loading' }, 'Loading searches…'));
  root.replaceChildren(h('div', { class: 'view-head' }, h('h1', null, 'Search')), list);

  const settingsList = (settings) => h('ul', { class: 'plain settings' },
    Object.entries(settings || {}).map(([k, v]) => h('li', null, `${k}=${fmtCell(null, v)}`)));

  function panel(s) {
    const budget = isNum(s.budget) && s.budget > 0 ? s.budget : null;
    const width = (v) => `${budget ? Math.min(100, (100 * (v || 0)) / budget) : 0}%`;
    const importance = Object.entries(s.importance || {}).filter(([, v]) => isNum(v)).sort((a, b) => b[1] - a[1]);
    const top = importance.reduce((m, [, v]) => Math.max(m, v), 0);
    const best = s.best;
    const box = h('div', { class: 'chart short' });
    const el = h('div', { class: 'panel search-panel', 'data-trial': s.trial, 'data-experiment': s.experiment },
      h('h2', null, `${s.trial} · ${s.metric} (${s.mode}) · ${s.definition}`),
      h('div', { class: 'search-progress' }, `${s.suggested ?? 0} / ${budget ?? '∞'} suggested, ${s.complete ?? 0} complete, ` +
        `${s.pruned ?? 0} pruned, ${s.failed ?? 0} failed, ${s.running ?? 0} running`),
      h('div', { class: 'progress' }, h('div', { class: 'p-suggested', style: `width:${width(s.suggested)}` }),
        h('div', { class: 'p-complete', style: `width:${width(s.complete)}` })),
      best
        ? h('div', { class: 'search-best' }, 'Best ', h('b', null, fmtFloat(best.value)), ' · run ', runLink(best.run),
          isNum(best.number) ? ` · suggestion #${best.number}` : null, settingsList(best.settings))
        : h('p', { class: 'muted' }, 'no complete suggestion yet'),
      h('div', { class: 'columns2' },
        h('div', null, h('h3', null, `${s.metric} per suggestion`), box),
        h('div', null, h('h3', null, 'Importance'), importance.length
          ? importance.map(([k, v]) => h('div', { class: 'imp-row' }, h('span', { class: 'key', title: k }, k),
            h('div', null, h('div', { class: 'imp-bar', style: `width:${top > 0 ? (100 * v) / top : 0}%` })),
            h('span', { class: 'val' }, v.toFixed(2))))
          : h('p', { class: 'muted' }, 'not known yet (needs more complete suggestions)'))));
    const history = s.history || [];
    const numbers = history.map((x) => x.number);
    const chart = new LineChart(box, { label: `${s.metric} per suggestion` });
    charts.push(chart);
    chart.setData({
      series: [
        { name: s.metric, color: seriesColor(0), kind: 'points', x: numbers, y: history.map((x) => x.value),
          labels: history.map((x) => `#${x.number} ${x.status || ''} ${x.run || ''}`),
          pointColors: history.map((x) => (x.status === 'PRUNED' ? '#9098a6' : x.status === 'FAILED' || x.status === 'TIMEOUT' ? '#e15759' : null)) },
        { name: 'best so far', color: seriesColor(1), kind: 'step', x: numbers, y: history.map((x) => x.best_so_far), width: 2 },
      ],
      xLabel: 'suggestion', yLabel: s.metric, legend: true, empty: 'no values yet',
    });
    return el;
  }

  let seq = 0;
  function load() {
    const n = ++seq;
    api('/api/searches', { experiment: state.experiment || null }).then((r) => {
      if (!scope.alive || n !== seq) return;
      dropCharts();
      const searches = r.searches || [];
      if (!searches.length) {
        list.replaceChildren(h('div', { class: 'empty', id: 'search-empty' },
          'No searches in this record: a trial with ', h('code', null, 'search:'), ' makes one.'));
        return;
      }
      list.replaceChildren(...searches.map(panel));
    }, (error) => {
      if (scope.alive && n === seq) list.replaceChildren(errorBox(error));
    });
  }
  const refresh = throttle(load, 2000);
  scope.add(refresh.cancel);
  load();
  return { onRecord: refresh, onExperiment: load };
}

// ---------------------------------------------------------------- 8. router

const VIEWS = { runs: viewRuns, run: viewRun, compare: viewCompare, live: viewLive, search: viewSearch };
const router = { view: null, scope: null };

// "#/run/a1b2?x=1" -> { name: 'run', id: 'a1b2', params: URLSearchParams('x=1') }.
function parseRoute(hash) {
  const raw = String(hash || '').replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const parts = (q < 0 ? raw : raw.slice(0, q)).split('/').filter(Boolean);
  let id = null;
  if (parts.length > 1) {
    id = parts.slice(1).join('/');
    try { id = decodeURIComponent(id); } catch { /* keep it as written */ }
  }
  return { name: parts[0] || 'runs', id, params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

// Hands an event (live, record, experiment change) to the shown view.
function dispatch(hook, data) {
  const view = router.view;
  if (view && typeof view[hook] === 'function') safely(() => view[hook](data));
}

// Leaves the current view (its scope closes) and draws the one the hash names.
function route() {
  if (router.scope) router.scope.close();
  const r = parseRoute(location.hash);
  const scope = new Scope();
  router.scope = scope;
  router.view = {};
  const navName = r.name === 'run' ? 'runs' : r.name;
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.view === navName));
  document.title = r.name === 'run' && r.id ? `${r.id} · expman` : `${r.name} · expman`;
  const root = $('#view');
  root.replaceChildren();
  root.dataset.view = r.name;
  window.scrollTo(0, 0);
  const view = VIEWS[r.name];
  if (!view || (r.name === 'run' && !r.id)) {
    root.append(h('h1', null, 'Not found'), h('p', null, `There is no page “${location.hash}”. `, h('a', { href: '#/runs' }, 'Go to the runs.')));
    return;
  }
  try {
    router.view = view(root, r, scope) || {};
  } catch (error) {
    console.error(error);
    root.append(errorBox(error));
  }
}

function start() {
  state.experiment = store.get('experiment', '');
  state.selected = new Set(store.get('selected', []));
  setupLogin();
  updateCompareLink();
  const picker = $('#experiment-picker');
  if (state.experiment) {
    // Until /api/info answers, the remembered choice is shown as it is.
    picker.append(h('option', { value: state.experiment }, state.experiment));
    picker.value = state.experiment;
  }
  picker.addEventListener('change', () => {
    state.experiment = picker.value;
    store.set('experiment', state.experiment);
    dispatch('onExperiment');
  });
  window.addEventListener('hashchange', () => safely(route));
  window.addEventListener('unhandledrejection', (event) => { event.preventDefault(); report(event.reason); });
  if (!location.hash || location.hash === '#' || location.hash === '#/') history.replaceState(null, '', '#/runs');
  safely(route);
  loadInfo();
  connectEvents();
}

if (typeof window !== 'undefined' && typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}

// For tests under Node (the browser has no `module`): the pure helpers.
if (typeof module !== 'undefined' && module.exports) {
  module.exports = {
    fmtTime, fmtDuration, fmtFloat, fmtNumber, fmtCount, fmtPercent, fmtBytes, fmtCell,
    niceStep, niceTicks, logTicks, timeTicks, fmtTick, fmtClock, colormap, extent, fitText,
    query, columnWidth, parseRoute, compareHref, seriesColor,
  };
}
