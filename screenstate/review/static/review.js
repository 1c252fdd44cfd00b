// screenstate review page: plain JS over the JSON API (see screenstate/review/app.py).
"use strict";

const S = { session: null, frames: [], segments: [], current: 0, detailSeq: 0 };
const $ = (id) => document.getElementById(id);

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "style") Object.assign(e.style, v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

async function api(path, opts = {}) {
  const r = await fetch(path, opts);
  const ct = r.headers.get("content-type") || "";
  const body = ct.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error((body && body.error) || (body && body.detail && JSON.stringify(body.detail)) || r.statusText);
  return body;
}

const color = (label) => (S.session.colors[label] || "#bbbbbb");
const fmt = (v, d = 3) => (v === null || v === undefined ? "" : Number(v).toFixed(d));
const where = (f) => (f.time_s === null ? `frame ${f.index}` : `${f.time_s.toFixed(2)} s (frame ${f.index})`);

async function loadAll() {
  const [session, frames, segments, queue] = await Promise.all([
    api("/api/session"), api("/api/frames"), api("/api/segments"), api("/api/queue?n=25"),
  ]);
  Object.assign(S, { session, frames, segments });
  renderSummary(); renderTimeline(); renderSegments(); renderQueue(queue); renderSelect();
  $("undo").disabled = !session.can_undo;
  api("/api/actions").then(renderActions);
}

// the user's actions (captures, flow recordings): a mark under the frame each one follows
function renderActions(actions) {
  const row = $("actions");
  row.replaceChildren();
  if (!actions.length) return;
  const at = new Map();
  for (const a of actions) if (a.before !== null) at.set(a.before, [...(at.get(a.before) || []), a]);
  for (const f of S.frames) {
    const here = at.get(f.index) || [];
    const tip = here.map((a) => {
      const to = a.after === null ? "" : ` → ${S.frames[a.after].label}`;
      return `${a.time_s.toFixed(2)} s ${a.kind}${a.text ? " " + a.text : ""}: ${f.label}${to}`;
    }).join("\n");
    row.append(el("div", { title: tip, dataset: { index: f.index, actions: here.length },
      onclick: () => openFrame(here.length ? here[0].after ?? f.index : f.index) }, here.length ? "▲" : ""));
  }
}

function renderSummary() {
  const s = S.session;
  let txt = `${s.n_frames} frames · ${s.names.length} states · ${s.channels.join("+")} · ${s.classes_path}`;
  if (s.accuracy) txt += ` · ${s.accuracy.text}`;
  $("summary").textContent = txt;
}

function renderTimeline() {
  const tl = $("timeline");
  tl.replaceChildren();
  for (const f of S.frames) {
    const t = el("div", {
      class: "tick" + (f.corrected ? " corrected" : ""), role: "listitem",
      title: `${where(f)}: ${f.label}${f.error ? " (" + f.error + ")" : ""}`,
      dataset: { index: f.index, state: f.label }, style: { background: color(f.label) },
      onclick: () => openFrame(f.index),
    });
    tl.append(t);
  }
  const axis = $("axis");
  axis.replaceChildren();
  const n = S.frames.length;
  const marks = Math.min(n, 8);
  for (let k = 0; k < marks; k++) {
    const f = S.frames[Math.round((k * (n - 1)) / Math.max(1, marks - 1))];
    axis.append(el("span", {}, f.time_s === null ? `#${f.index}` : `${f.time_s.toFixed(1)} s`));
  }
  const legend = $("legend");
  legend.replaceChildren();
  const used = new Set(S.frames.map((f) => f.label));
  for (const name of [...S.session.names, S.session.none_label, "<unreadable>"]) {
    if (!used.has(name)) continue;
    legend.append(el("span", {}, el("i", { style: { background: color(name) } }), name));
  }
  markCurrent();
}

function renderSegments() {
  const box = $("segments");
  box.replaceChildren();
  for (const s of S.segments) {
    const first = S.frames[s.start];
    const range = s.start_s === null
      ? (s.start === s.end ? `#${s.start}` : `#${s.start}–${s.end}`)
      : `${s.start_s.toFixed(1)}–${s.end_s.toFixed(1)} s`;
    box.append(el("div", {
      class: "segment", "data-testid": "segment", dataset: { start: s.start, end: s.end, state: s.state },
      title: `${s.state}: ${s.n_frames} frame(s)`, onclick: () => openFrame(s.start),
    },
    el("div", { class: "bar", style: { background: color(s.state) } }),
    first.error ? null : el("img", { src: `/api/frames/${s.start}/image?thumb=240`, alt: s.state, loading: "lazy" }),
    el("div", { class: "cap" }, `${s.state} · ${range}`)));
  }
}

function renderQueue(queue) {
  const ol = $("queue");
  ol.replaceChildren();
  for (const q of queue) {
    ol.append(el("li", { dataset: { index: q.index }, onclick: () => openFrame(q.index) },
      `#${q.index} ${q.label} (margin ${fmt(q.margin)})`));
  }
}

function renderSelect() {
  const sel = $("state-select");
  const keep = sel.value;
  sel.replaceChildren(...S.session.names.map((n) => el("option", { value: n }, n)),
    el("option", { value: "" }, "(none of the above)"));
  if (keep !== undefined) sel.value = keep;
}

function markCurrent() {
  for (const t of document.querySelectorAll("#timeline .tick.current")) t.classList.remove("current");
  const tick = document.querySelector(`#timeline .tick[data-index="${S.current}"]`);
  if (tick) tick.classList.add("current");
  for (const s of document.querySelectorAll(".segment")) {
    const on = Number(s.dataset.start) <= S.current && S.current <= Number(s.dataset.end);
    s.classList.toggle("current", on);
    if (on) s.scrollIntoView({ block: "nearest", inline: "nearest" });
  }
}

async function openFrame(index, { keepMessage = false } = {}) {
  if (!S.frames.length) return;
  index = Math.max(0, Math.min(S.frames.length - 1, index));
  S.current = index;
  history.replaceState(null, "", `#frame=${index}`);
  markCurrent();
  if (!keepMessage) $("message").textContent = "";
  const seq = ++S.detailSeq;
  const f = await api(`/api/frames/${index}`);
  if (seq !== S.detailSeq) return; // a later navigation won
  $("frame-title").textContent = `${where(f)} · ${f.name} · ${f.label}` +
    (f.truth ? ` (known: ${f.truth})` : "") + (f.corrected ? " · corrected" : "");
  $("frame-img").src = `/api/frames/${index}/image`;
  $("ask-boxes").replaceChildren();
  $("ask-out").replaceChildren();
  $("frame-img").alt = f.name;
  renderScores(f);
  renderEvidence($("evidence"), f.evidence);
  const sel = $("state-select");
  sel.value = f.corrected ? (f.correction || "") : (f.pred || "");
  $("neg-class").textContent = f.pred || "the predicted state";
  if (!keepMessage) $("negative").checked = false;
  $("save-label").disabled = !!f.error;
  $("viewer").dataset.index = index;
  $("viewer").dataset.state = f.label;
}

function renderScores(f) {
  const body = $("scores").querySelector("tbody");
  body.replaceChildren();
  if (!f.raw_scores) { body.append(el("tr", {}, el("td", { colspan: 3, class: "error" }, f.error || "no scores"))); return; }
  const rows = Object.entries(f.raw_scores).sort((a, b) => b[1] - a[1]);
  for (const [name, raw] of rows) {
    const score = f.scores[name];
    body.append(el("tr", { class: name === f.pred ? "pred" : "", dataset: { state: name } },
      el("td", {}, el("span", { class: "swatch", style: { background: color(name) } }), name),
      el("td", { class: "num" }, fmt(raw)),
      el("td", { class: "barcell", title: fmt(score) }, el("div", { style: { width: `${Math.round(score * 100)}%` } }))));
  }
}

function renderEvidence(box, evidence) {
  box.replaceChildren();
  (evidence || []).forEach((e, k) => {
    const example = e.text !== null
      ? el("div", { class: "example" }, `“${e.text}”`)
      : el("div", { class: "example" }, el("img", { src: e.image_url, alt: e.image }), el("div", {}, e.image.split("/").pop()));
    const lines = e.lines.length
      ? el("ul", {}, ...e.lines.map((ln) => el("li", {}, `${ln.text} (${fmt(ln.similarity, 2)})`)))
      : el("p", { class: "hint" }, "no on-screen line matched");
    const channels = Object.entries(e.channels).map(([c, v]) => `${c} ${fmt(v)}`).join(", ");
    box.append(el("div", { class: "evidence", "data-testid": "evidence-card" },
      el("h3", {}, `${k === 0 ? "winner" : "runner-up"}: ${e.class} (raw ${fmt(e.raw_score)})`),
      el("div", {}, e.negative ? el("span", { class: "neg" }, "closest example is a NEGATIVE one ") : "best-matching example ",
        el("code", {}, e.json_path)),
      example,
      el("div", { class: "hint" }, `relevance ${fmt(e.relevance)} (${channels})`),
      e.window ? el("div", { class: "neg", "data-testid": "evidence-window" }, `no state by window size: ${e.window}`) : "",
      el("div", {}, "on-screen lines that matched:"), lines));
  });
}

function drawBoxes(answer) {
  // boxes come in image pixels; the image is shown scaled to fit
  const img = $("frame-img"), layer = $("ask-boxes");
  layer.replaceChildren();
  if (!answer || !answer.boxes.length || !img.naturalWidth) return;
  const k = img.clientWidth / img.naturalWidth;
  Object.assign(layer.style, { width: `${img.clientWidth}px`, height: `${img.clientHeight}px` });
  for (const b of answer.boxes) {
    const [x0, y0, x1, y1] = b.box;
    layer.append(el("div", { class: "ask-box", "data-testid": "ask-box",
      style: { left: `${x0 * k}px`, top: `${y0 * k}px`, width: `${(x1 - x0) * k}px`, height: `${(y1 - y0) * k}px` } },
      el("span", {}, b.label)));
  }
}

async function askQuestion(ev) {
  ev.preventDefault();
  const out = $("ask-out"), index = S.current, question = $("ask-question").value;
  out.replaceChildren(el("span", { class: "hint" }, "answering…"));
  $("ask-submit").disabled = true;
  try {
    const a = await api(`/api/frames/${index}/ask`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ question }),
    });
    if (index !== S.current) return; // the user moved on
    out.replaceChildren(
      el("div", {}, el("span", { class: "route", "data-testid": "ask-route" }, `[${a.route}] `), a.answer),
      el("div", { class: "hint" }, `${a.seconds.toFixed(2)} s`),
      el("pre", {}, JSON.stringify(a.evidence, null, 1)));
    drawBoxes(a);
  } catch (e) {
    out.replaceChildren(el("span", { class: "error" }, e.message));
  } finally {
    $("ask-submit").disabled = false;
  }
}

async function saveLabel(ev) {
  ev.preventDefault();
  const state = $("state-select").value || null;
  const negative = $("negative").checked;
  const btn = $("save-label");
  btn.disabled = true;
  $("message").className = "";
  $("message").textContent = "saving and re-scoring…";
  try {
    const r = await api("/api/label", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ index: S.current, state, negative, scope: $("scope").value }),
    });
    await loadAll();
    await openFrame(S.current, { keepMessage: true });
    const added = [r.pin && "pinned this screen and its near-duplicates",
      r.exemplar && `added ${r.exemplar.split("/").slice(-2).join("/")}`,
      r.negative_exemplar && `negative of ${r.negative_of}`].filter(Boolean).join("; ");
    const spill = r.spill.length ? `; not added as an exemplar: it would also change frame(s) ${r.spill.join(", ")}`
      + " (reach 'this screen + exemplar, always' adds it anyway)" : "";
    $("message").textContent = `${added}${spill}; re-scored: ${r.changed_frames.length} frame(s) changed state`;
  } catch (e) {
    $("message").className = "error";
    $("message").textContent = e.message;
  } finally {
    btn.disabled = false;
  }
}

async function undo() {
  try {
    const r = await api("/api/undo", { method: "POST" });
    await loadAll();
    await openFrame(S.current, { keepMessage: true });
    $("message").className = "";
    $("message").textContent = `undone: ${r.undone}`;
  } catch (e) {
    $("message").className = "error";
    $("message").textContent = e.message;
  }
}

async function openClasses() {
  const r = await api("/api/classes");
  $("classes-path").textContent = r.path;
  $("classes-text").value = r.text;
  $("classes-error").textContent = "";
  $("classes-dialog").showModal();
}

async function saveClasses() {
  $("classes-error").textContent = "";
  try {
    await api("/api/classes", {
      method: "PUT", headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: $("classes-text").value }),
    });
    $("classes-dialog").close();
    await loadAll();
    await openFrame(S.current);
  } catch (e) {
    $("classes-error").textContent = e.message;
  }
}

async function tryFile(file) {
  const out = $("try-out");
  out.textContent = "classifying…";
  const fd = new FormData();
  fd.append("file", file);
  try {
    const r = await api("/api/try", { method: "POST", body: fd });
    const rows = Object.entries(r.raw_scores).sort((a, b) => b[1] - a[1])
      .map(([n, v]) => el("tr", {}, el("td", {}, n), el("td", {}, fmt(v)), el("td", {}, fmt(r.scores[n]))));
    const ev = el("div", { id: "try-evidence" });
    out.replaceChildren(el("p", {}, el("b", {}, `${file.name}: ${r.state || S.session.none_label}`), ` (best ${r.pred})`),
      el("table", { "data-testid": "try-scores" }, el("tr", {}, el("th", {}, "state"), el("th", {}, "raw"), el("th", {}, "score")), ...rows), ev);
    ev.className = "evidence-row";
    renderEvidence(ev, r.evidence);
  } catch (e) {
    out.replaceChildren(el("p", { class: "error" }, e.message));
  }
}

function segmentOf(index) { return S.segments.findIndex((s) => s.start <= index && index <= s.end); }

function onKey(ev) {
  const t = ev.target;
  if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT")) return;
  if (document.querySelector("dialog[open]")) return;
  let target = null;
  if (ev.key === "ArrowRight") target = S.current + 1;
  else if (ev.key === "ArrowLeft") target = S.current - 1;
  else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
    const k = segmentOf(S.current) + (ev.key === "ArrowDown" ? 1 : -1);
    if (k >= 0 && k < S.segments.length) target = S.segments[k].start;
  }
  if (target === null) return;
  ev.preventDefault();
  openFrame(target);
}

function fromHash() {
  const m = /frame=(\d+)/.exec(location.hash);
  return m ? Number(m[1]) : 0;
}

async function main() {
  $("correct").addEventListener("submit", saveLabel);
  $("ask").addEventListener("submit", askQuestion);
  $("undo").addEventListener("click", undo);
  $("open-classes").addEventListener("click", openClasses);
  $("classes-save").addEventListener("click", saveClasses);
  $("classes-close").addEventListener("click", () => $("classes-dialog").close());
  $("open-try").addEventListener("click", () => $("try-dialog").showModal());
  $("try-close").addEventListener("click", () => $("try-dialog").close());
  $("try-file").addEventListener("change", (e) => e.target.files[0] && tryFile(e.target.files[0]));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files[0]) tryFile(e.dataTransfer.files[0]);
  });
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", () => { const i = fromHash(); if (i !== S.current) openFrame(i); });
  await loadAll();
  await openFrame(fromHash());
  document.body.dataset.ready = "1";
}

main().catch((e) => { $("summary").textContent = `error: ${e.message}`; console.error(e); });
