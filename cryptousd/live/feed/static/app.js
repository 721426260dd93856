// The feed's page: one EventSource, one canvas. Draws the last 60 closed candles, the forming
// candle and the 10 forecast candles with their interval. No library, no build step.
"use strict";
const UP = "#26a69a", DOWN = "#ef5350", PRED = "#7e57c2", BAND = "rgba(126,87,194,0.12)";
const WINDOW = 60;
const params = new URLSearchParams(location.search);
const token = params.get("token");
const state = { candles: [], forming: null, forecast: null, es: null, symbol: null };

function api(path, args) {
  const q = new URLSearchParams(args);
  if (token) q.set("token", token);
  return `${path}?${q}`;
}

function fmt(x) {
  return x == null ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

function connect(symbol) {
  if (state.es) state.es.close();
  Object.assign(state, { candles: [], forming: null, forecast: null, symbol });
  const es = new EventSource(api("api/stream", { symbol }));
  state.es = es;
  es.addEventListener("candle", (e) => {
    const c = JSON.parse(e.data);
    const last = state.candles[state.candles.length - 1];
    if (!last || c.t > last.t) state.candles.push(c);
    if (state.candles.length > WINDOW) state.candles.splice(0, state.candles.length - WINDOW);
    draw();
  });
  es.addEventListener("tick", (e) => { state.forming = JSON.parse(e.data).candle; draw(); });
  es.addEventListener("forecast", (e) => { state.forecast = JSON.parse(e.data); draw(); });
  es.addEventListener("state", (e) => showState(JSON.parse(e.data)));
  es.onerror = () => setStatus("RECONNECTING");
}

function setStatus(text) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.className = "cu-status " + text.split(" ")[0].toLowerCase();
}

function showState(s) {
  setStatus(s.status);
  document.getElementById("source").textContent = s.source + (s.error ? ` (${s.error})` : "") +
    (s.note ? ` — ${s.note}` : "");
  document.getElementById("model-note").textContent = s.model_note || "";
  const sc = s.scorecard;
  document.getElementById("score").textContent = sc.resolved
    ? `${sc.resolved} resolved; MAE ${fmt(sc.mae)} vs persistence ${fmt(sc.mae_persistence)} USD` +
      (sc.coverage == null ? "" : `; interval held ${(sc.coverage * 100).toFixed(0)} %`)
    : "no forecast resolved yet";
}

function panel() {
  const last = state.candles[state.candles.length - 1];
  const fc = state.forecast;
  document.getElementById("last").textContent = last ? fmt(last.close) : "–";
  document.getElementById("time").textContent = last ? last.t.replace("T", " ").replace("Z", " UTC") : "";
  if (fc) {
    const c = fc.candles[fc.candles.length - 1].close;
    const pct = (c / fc.last_close - 1) * 100;
    document.getElementById("fc").textContent =
      `${fmt(c)} (${pct >= 0 ? "+" : ""}${pct.toFixed(3)} %; ${Math.round(fc.coverage * 100)} % interval ` +
      `${fmt(fc.lower[fc.lower.length - 1])} – ${fmt(fc.upper[fc.upper.length - 1])})`;
    document.getElementById("pup").textContent = fc.p_up == null ? "–" : `${(fc.p_up * 100).toFixed(1)} %`;
    document.getElementById("model").textContent = fc.model;
  }
}

function draw() {
  panel();
  const cv = document.getElementById("chart"), g = cv.getContext("2d");
  const W = cv.width, H = cv.height, pad = { l: 10, r: 80, t: 10, b: 24 };
  g.clearRect(0, 0, W, H);
  const real = state.candles;
  const fc = state.forecast && real.length && state.forecast.origin <= real[real.length - 1].t
    ? state.forecast : null;
  const pred = fc ? fc.candles : [];
  const all = real.concat(state.forming ? [state.forming] : [], pred);
  if (!all.length) return;
  let lo = Math.min(...all.map((c) => c.low)), hi = Math.max(...all.map((c) => c.high));
  if (fc) { lo = Math.min(lo, ...fc.lower); hi = Math.max(hi, ...fc.upper); }
  const span = hi - lo || 1;
  const t0 = Date.parse(real.length ? real[0].t : all[0].t);
  const slots = WINDOW + 1 + 10;
  const step = (W - pad.l - pad.r) / slots;
  const x = (t) => pad.l + ((Date.parse(t) - t0) / 60000 + 0.5) * step;
  const y = (p) => pad.t + (hi - p) / span * (H - pad.t - pad.b);
  // axis: a few price labels
  g.fillStyle = "#607d8b"; g.font = "11px system-ui"; g.strokeStyle = "#eceff1";
  for (let i = 0; i <= 4; i++) {
    const p = lo + span * i / 4;
    g.beginPath(); g.moveTo(pad.l, y(p)); g.lineTo(W - pad.r, y(p)); g.stroke();
    g.fillText(fmt(p), W - pad.r + 4, y(p) + 4);
  }
  if (fc) {  // the interval of the close, as a band
    g.fillStyle = BAND; g.beginPath();
    pred.forEach((c, i) => g.lineTo(x(c.t), y(fc.upper[i])));
    for (let i = pred.length - 1; i >= 0; i--) g.lineTo(x(pred[i].t), y(fc.lower[i]));
    g.closePath(); g.fill();
  }
  const candle = (c, colour, cls, alpha) => {
    const cx = x(c.t), w = Math.max(1, step * 0.7);
    g.globalAlpha = alpha; g.strokeStyle = colour; g.fillStyle = colour;
    g.beginPath(); g.moveTo(cx, y(c.high)); g.lineTo(cx, y(c.low)); g.stroke();
    const top = y(Math.max(c.open, c.close)), bottom = y(Math.min(c.open, c.close));
    g.fillRect(cx - w / 2, top, w, Math.max(1, bottom - top));
    g.globalAlpha = 1;
  };
  real.forEach((c) => candle(c, c.close >= c.open ? UP : DOWN, "real", 1));
  if (state.forming) candle(state.forming, "#90a4ae", "forming", 0.9);
  pred.forEach((c) => candle(c, PRED, "pred", 0.45));
  // what a test (or a curious reader) can count
  cv.dataset.real = real.length;
  cv.dataset.pred = pred.length;
  cv.dataset.forming = state.forming ? 1 : 0;
  cv.dataset.last = real.length ? real[real.length - 1].t : "";
}

async function start() {
  const sel = document.getElementById("symbol");
  const health = await (await fetch("healthz")).json();
  for (const s of Object.keys(health.symbols)) sel.add(new Option(s, s));
  const wanted = params.get("symbol");
  if (wanted && health.symbols[wanted]) sel.value = wanted;
  sel.onchange = () => connect(sel.value);
  connect(sel.value);
}
start();
