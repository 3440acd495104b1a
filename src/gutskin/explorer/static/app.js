// gutskin explorer page: forms -> JSON API -> jobs polled until done. No libraries.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let MODEL = null; // /api/model
const PARAMS = {}; // name -> parameter record

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function fmt(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}

// ------------------------------------------------------------------ tabs
for (const b of $$("nav .tab")) {
  b.addEventListener("click", () => {
    $$("nav .tab").forEach((t) => t.classList.toggle("active", t === b));
    $$(".panel").forEach((p) => p.classList.toggle("active", p.id === "tab-" + b.dataset.tab));
  });
}

// ------------------------------------------------------------------ popover
function showPopover(content, anchor) {
  const pop = $("#popover");
  const inside = anchor && pop.contains(anchor); // a link inside the popover: stay in place
  const r = anchor && !inside ? anchor.getBoundingClientRect() : null;
  $("#popover-body").replaceChildren(content);
  pop.hidden = false;
  if (inside) return;
  const box = r || { left: 40, bottom: 80 };
  const left = Math.min(window.scrollX + box.left, window.scrollX + window.innerWidth - 450);
  pop.style.left = Math.max(8, left) + "px";
  pop.style.top = window.scrollY + box.bottom + 6 + "px";
}
$("#popover-close").addEventListener("click", () => ($("#popover").hidden = true));
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") $("#popover").hidden = true;
});

function sourceNode(text) {
  // DOIs and PMIDs become links; everything else stays text.
  const span = el("span");
  const re = /(doi:\s*(10\.\S+?)(?=[,;)\s]|$))|(PMID\s*(\d+))|(PMC\d+)/g;
  let last = 0;
  let m;
  while ((m = re.exec(text)) !== null) {
    span.append(text.slice(last, m.index));
    let href;
    if (m[2]) href = "https://doi.org/" + m[2];
    else if (m[4]) href = "https://pubmed.ncbi.nlm.nih.gov/" + m[4] + "/";
    else href = "https://www.ncbi.nlm.nih.gov/pmc/articles/" + m[5] + "/";
    span.append(el("a", { href, target: "_blank", rel: "noopener", text: m[0] }));
    last = m.index + m[0].length;
  }
  span.append(text.slice(last));
  return span;
}

function paramCard(name) {
  const p = PARAMS[name];
  if (!p) return el("p", { text: "unknown parameter " + name });
  const range = p.lower !== null || p.upper !== null ? `${fmt(p.lower)} – ${fmt(p.upper)}` : "—";
  const dl = el("dl", { class: "param-card" });
  const row = (k, v) => dl.append(el("dt", { text: k }), el("dd", {}, v));
  row("value", p.unit === "1" ? fmt(p.value) : `${fmt(p.value)} ${p.unit}`);
  row("range", range);
  row("between-patient CV", fmt(p.cv));
  row("confidence", p.confidence || "—");
  row("source", sourceNode(p.source || "—"));
  row("note", p.note || "—");
  return el("div", { class: "card", "data-param": name },
    el("h3", {}, el("code", { text: name })), el("p", { text: p.description }), dl);
}

function showParam(name, anchor) {
  showPopover(paramCard(name), anchor);
}

function infoButton(name) {
  return el("button", {
    type: "button", class: "info", title: "source of " + name, "data-param": name,
    onclick: (e) => { e.preventDefault(); showParam(name, e.currentTarget); },
  }, "i");
}

// ------------------------------------------------------------------ errors
function clearErrors(form, box) {
  box.textContent = "";
  $$(".invalid", form).forEach((e) => e.classList.remove("invalid"));
}

function showError(form, box, data) {
  box.textContent = data.error || "request failed";
  if (data.field) {
    const input = $$("[data-field]", form).find((e) => e.dataset.field === data.field);
    if (input) {
      input.classList.add("invalid");
      input.focus();
    }
  }
}

// ------------------------------------------------------------------ regimen rows
function interventionSelect(value, withNone) {
  const sel = el("select", { class: "iv" });
  if (withNone) sel.append(el("option", { value: "", text: "(no intervention)" }));
  const groups = { probiotic: "probiotic strains", input: "other interventions", placebo: "placebo" };
  for (const [kind, label] of Object.entries(groups)) {
    const og = el("optgroup", { label });
    for (const iv of MODEL.interventions.filter((i) => i.kind === kind)) {
      og.append(el("option", { value: iv.name, text: `${iv.name} — ${iv.description}` }));
    }
    sel.append(og);
  }
  sel.value = value;
  return sel;
}

function ivByName(name) {
  return MODEL.interventions.find((i) => i.name === name);
}

// A dose control: number box + slider (log scale for probiotics' CFU/day).
function doseControl(field, iv, value) {
  const wrap = el("span", { class: "dose" });
  const num = el("input", { type: "number", class: "dose-value", "data-field": field, step: "any" });
  const slider = el("input", { type: "range", class: "dose-slider" });
  const unit = el("span", { class: "unit" });
  const setIv = (iv, v) => {
    const logScale = iv.kind === "probiotic";
    wrap.dataset.log = logScale ? "1" : "0";
    num.min = iv.dose_min;
    num.max = iv.dose_max;
    num.value = v;
    if (logScale) {
      slider.min = 6; slider.max = Math.log10(iv.dose_max); slider.step = 0.1;
      slider.value = v > 0 ? Math.log10(v) : 6;
    } else {
      slider.min = iv.dose_min; slider.max = iv.dose_max;
      slider.step = (iv.dose_max - iv.dose_min) / 100;
      slider.value = v;
    }
    unit.textContent = `${iv.dose_unit} (${fmt(iv.dose_min)}–${fmt(iv.dose_max)})`;
    slider.disabled = iv.kind === "placebo";
    num.disabled = iv.kind === "placebo";
  };
  slider.addEventListener("input", () => {
    num.value = wrap.dataset.log === "1"
      ? Number(Math.pow(10, Number(slider.value)).toPrecision(2)) : slider.value;
  });
  num.addEventListener("input", () => {
    const v = Number(num.value);
    slider.value = wrap.dataset.log === "1" ? (v > 0 ? Math.log10(v) : 6) : v;
  });
  setIv(iv, value);
  wrap.append(num, slider, unit);
  wrap.setIv = setIv;
  wrap.num = num;
  return wrap;
}

function regimenRow(container, r) {
  const row = el("div", { class: "regimen" });
  const sel = interventionSelect(r.intervention, false);
  const dose = doseControl("", ivByName(r.intervention), r.dose ?? ivByName(r.intervention).default_dose);
  const start = el("input", { type: "number", class: "start", value: r.start_day ?? 0, min: 0, step: 1 });
  const stop = el("input", { type: "number", class: "stop", value: r.stop_day ?? "", min: 1, step: 1,
    placeholder: "end" });
  const pattern = el("select", { class: "pattern" },
    el("option", { value: "daily", text: "daily" }), el("option", { value: "continuous", text: "continuous" }));
  pattern.value = r.pattern || "daily";
  const adherence = el("input", { type: "number", class: "adherence", value: r.adherence ?? 1, min: 0,
    max: 1, step: 0.05 });
  sel.addEventListener("change", () => {
    const iv = ivByName(sel.value);
    dose.setIv(iv, iv.default_dose);
    pattern.value = iv.kind === "probiotic" || iv.kind === "placebo" ? "daily" : pattern.value;
  });
  const info = el("button", { type: "button", class: "info", title: "what it does",
    onclick: (e) => {
      const iv = ivByName(sel.value);
      showPopover(el("div", { class: "card" }, el("h3", { text: iv.name }), el("p", { text: iv.description }),
        el("p", {}, el("b", { text: "mechanism: " }), iv.mechanism),
        el("p", {}, el("b", { text: "source: " }), sourceNode(iv.source))), e.currentTarget);
    } }, "i");
  const remove = el("button", { type: "button", class: "small remove", text: "remove",
    onclick: () => { row.remove(); renumber(container); } });
  row.append(sel, info, dose, el("label", {}, "day ", start), el("label", {}, "to ", stop),
    pattern, el("label", {}, "adherence ", adherence), remove);
  container.append(row);
  renumber(container);
  return row;
}

function renumber(container) {
  $$(".regimen", container).forEach((row, i) => {
    const f = `regimens[${i}]`;
    $(".iv", row).dataset.field = f + ".intervention";
    $(".dose-value", row).dataset.field = f + ".dose";
    $(".start", row).dataset.field = f + ".start_day";
    $(".stop", row).dataset.field = f + ".stop_day";
    $(".adherence", row).dataset.field = f + ".adherence";
  });
}

function readRegimens(container) {
  return $$(".regimen", container).map((row) => {
    const r = {
      intervention: $(".iv", row).value,
      dose: Number($(".dose-value", row).value),
      start_day: Number($(".start", row).value || 0),
      pattern: $(".pattern", row).value,
      adherence: Number($(".adherence", row).value),
    };
    const stop = $(".stop", row).value;
    if (stop !== "") r.stop_day = Number(stop);
    return r;
  });
}

// ------------------------------------------------------------------ baseline
function baselineControl(name, label) {
  const p = PARAMS[name];
  const lo = p.lower ?? p.value / 10;
  const hi = p.upper ?? p.value * 10;
  const logScale = lo > 0 && hi / lo >= 20;
  const toSlider = (v) => (logScale ? Math.log10(v) : v);
  const fromSlider = (s) => (logScale ? Math.pow(10, s) : s);
  const num = el("input", { type: "number", class: "bl-value", "data-field": "baseline." + name,
    "data-param": name, value: p.value, min: lo, max: hi, step: "any" });
  const slider = el("input", { type: "range", class: "bl-slider", min: toSlider(lo), max: toSlider(hi),
    step: (toSlider(hi) - toSlider(lo)) / 200, value: toSlider(p.value), "aria-label": name });
  slider.addEventListener("input", () => { num.value = Number(fromSlider(Number(slider.value)).toPrecision(3)); });
  num.addEventListener("input", () => { slider.value = toSlider(Number(num.value)); });
  const row = el("div", { class: "baseline-row", "data-param": name },
    el("label", { class: "bl-label" }, label || p.description, " ", el("code", { text: name })),
    infoButton(name), slider, num, el("span", { class: "unit", text: p.unit === "1" ? "" : p.unit }));
  row.reset = () => { num.value = p.value; slider.value = toSlider(p.value); };
  return row;
}

function readBaseline() {
  const out = {};
  for (const input of $$("#baseline .bl-value")) {
    const v = Number(input.value);
    if (v !== PARAMS[input.dataset.param].value) out[input.dataset.param] = v;
  }
  return out;
}

// ------------------------------------------------------------------ jobs
async function runJob(url, body, ui) {
  clearErrors(ui.form, ui.error);
  ui.run.disabled = true;
  ui.progress.value = 0;
  ui.stage.textContent = "submitting…";
  let resp;
  try {
    resp = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body) });
  } catch (err) {
    ui.error.textContent = "server not reachable: " + err;
    ui.run.disabled = false;
    return null;
  }
  const data = await resp.json();
  if (!resp.ok) {
    showError(ui.form, ui.error, data);
    ui.stage.textContent = "";
    ui.run.disabled = false;
    return null;
  }
  const id = data.job.id;
  ui.cancel.disabled = false;
  ui.cancel.onclick = async () => {
    ui.cancel.disabled = true;
    await fetch("/api/jobs/" + id, { method: "DELETE" });
  };
  let job = data.job;
  while (!["done", "failed", "cancelled"].includes(job.state)) {
    await sleep(200);
    const r = await fetch("/api/jobs/" + id);
    if (!r.ok) { job = { state: "failed", error: "job lost" }; break; }
    job = await r.json();
    ui.progress.value = job.fraction;
    ui.stage.textContent = job.state === "queued" ? "waiting for the model / another run…" : job.stage;
  }
  ui.cancel.disabled = true;
  ui.run.disabled = false;
  ui.stage.textContent = job.state === "done" ? `done in ${job.elapsed_s} s` : job.state;
  ui.stage.dataset.state = job.state;
  if (job.state === "failed") ui.error.textContent = job.error;
  return job.state === "done" ? { id, ...job.result } : null;
}

// ------------------------------------------------------------------ patients tab
const simUi = () => ({ form: $("#sim-form"), error: $("#sim-error"), run: $("#sim-run"),
  cancel: $("#sim-cancel"), progress: $("#sim-progress"), stage: $("#sim-stage") });

async function runSimulation(e) {
  e.preventDefault();
  const mode = $("input[name=mode]:checked").value;
  const body = {
    mode,
    sex: $("#sim-sex").value,
    patients: Number($("#sim-patients").value),
    days: Number($("#sim-days").value),
    seed: Number($("#sim-seed").value),
    baseline: readBaseline(),
    regimens: readRegimens($("#sim-regimens")),
    compare_untreated: $("#sim-compare").checked,
  };
  const res = await runJob("/api/simulate", body, simUi());
  if (!res) return;
  const img = $("#sim-plot");
  img.src = res.plot + "?t=" + Date.now();
  img.alt = `trajectories of ${res.patients} patient(s) over ${res.days} days`;
  renderSummary(res);
  const svg = await (await fetch(res.causal)).text();
  setCausal(svg, res.id);
  // set last: a result is marked as this job's only once plot, summary and diagram are
  img.dataset.job = res.id;
}

function renderSummary(res) {
  const t = $("#sim-summary");
  const head = el("tr", {}, ...["", "unit", "day 0", `day ${res.days}`, "5–95 %", "untreated"]
    .map((h) => el("th", { text: h })));
  const rows = res.summary.map((s) => el("tr", { "data-variable": s.variable },
    el("td", { text: s.label }), el("td", { text: s.unit }), el("td", { text: fmt(s.start) }),
    el("td", { class: "end", text: fmt(s.end) }), el("td", { text: `${fmt(s.end_p5)} – ${fmt(s.end_p95)}` }),
    el("td", { text: fmt(s.untreated_end) })));
  t.replaceChildren(el("thead", {}, head), el("tbody", {}, ...rows));
  if (res.n_failed) t.append(el("caption", { text: `${res.n_failed} patient(s) failed to solve, excluded` }));
}

function setCausal(svgText, jobId) {
  const box = $("#causal");
  box.innerHTML = svgText; // generated by the server from the model spec
  box.dataset.job = jobId || "";
  const states = Object.fromEntries(MODEL.states.map((s) => [s.name, s]));
  for (const node of $$(".node", box)) {
    const open = () => {
      const s = states[node.dataset.state];
      const list = el("div", { class: "param-list" },
        ...s.parameters.map((p) => el("button", { type: "button", class: "param-link", "data-param": p,
          text: p, onclick: (ev) => showParam(p, ev.currentTarget) })));
      showPopover(el("div", { class: "card", "data-state": s.name },
        el("h3", {}, el("code", { text: s.name }), ` (${s.unit})`), el("p", { text: s.description }),
        el("p", { text: `current value: ${fmt(Number(node.dataset.value))}` }),
        el("p", { class: "hint", text: "Parameters in its rate equation (click for the source):" }), list),
      node);
    };
    node.addEventListener("click", open);
    node.addEventListener("keydown", (ev) => { if (ev.key === "Enter") open(); });
  }
}

// ------------------------------------------------------------------ trial tab
function armRow(name, intervention, dose) {
  const container = $("#trial-arms");
  const i = $$(".arm", container).length;
  const row = el("div", { class: "arm regimen" });
  const nameInput = el("input", { type: "text", class: "arm-name", value: name, maxlength: 40 });
  const sel = interventionSelect(intervention, true);
  const iv0 = ivByName(intervention || "placebo");
  const doseCtl = doseControl("", iv0, dose ?? iv0.default_dose);
  sel.addEventListener("change", () => {
    const iv = ivByName(sel.value || "placebo");
    doseCtl.setIv(iv, iv.default_dose);
    if (sel.value) nameInput.value = uniqueArmName(sel.value, row);
  });
  const remove = el("button", { type: "button", class: "small remove", text: "remove",
    onclick: () => { if ($$(".arm", container).length > MODEL.limits.arms_min) { row.remove(); renumberArms(); } } });
  row.append(el("label", {}, "arm ", nameInput), sel, doseCtl, remove);
  container.append(row);
  renumberArms();
  return i;
}

function uniqueArmName(base, self) {
  const taken = $$(".arm").filter((r) => r !== self).map((r) => $(".arm-name", r).value);
  let name = base;
  for (let k = 2; taken.includes(name); k++) name = `${base}-${k}`;
  return name;
}

function renumberArms() {
  $$("#trial-arms .arm").forEach((row, i) => {
    $(".arm-name", row).dataset.field = `arms[${i}].name`;
    $(".iv", row).dataset.field = `arms[${i}].regimens[0].intervention`;
    $(".dose-value", row).dataset.field = `arms[${i}].regimens[0].dose`;
  });
  $("#trial-add-arm").disabled = $$("#trial-arms .arm").length >= MODEL.limits.arms_max;
}

const trialUi = () => ({ form: $("#trial-form"), error: $("#trial-error"), run: $("#trial-run"),
  cancel: $("#trial-cancel"), progress: $("#trial-progress"), stage: $("#trial-stage") });

async function runTrial(e) {
  e.preventDefault();
  const arms = $$("#trial-arms .arm").map((row) => {
    const iv = $(".iv", row).value;
    return { name: $(".arm-name", row).value.trim(),
      regimens: iv ? [{ intervention: iv, dose: Number($(".dose-value", row).value) }] : [] };
  });
  const num = (id) => Number($(id).value);
  const body = { arms, n_per_arm: num("#trial-n"), duration_weeks: num("#trial-weeks"),
    seed: num("#trial-seed"), adherence: num("#trial-adherence"), female_fraction: num("#trial-female"),
    age_min: num("#trial-age-min"), age_max: num("#trial-age-max"), iga_min: num("#trial-iga-min"),
    iga_max: num("#trial-iga-max") };
  const res = await runJob("/api/trial", body, trialUi());
  if (!res) return;
  $("#trial-results").dataset.job = res.id;
  const fig = (id, key) => {
    const img = $(id);
    if (res.figures[key]) { img.src = res.figures[key]; img.dataset.job = res.id; }
  };
  fig("#trial-forest", "forest");
  fig("#trial-responders", "responders_iga_success");
  fig("#trial-trajectory", "trajectory_inflammatory");
  const s = res.screening;
  $("#trial-screening").textContent = `${s.n_randomized} randomized of ${s.n_screened} screened; ` +
    res.arms.map((a) => `${a.name}: ${a.n_completed}/${a.n_randomized} completed`).join(", ");
  const dl = $("#trial-downloads");
  dl.replaceChildren(el("span", { text: "Download: " }), ...Object.entries(res.downloads).map(([name, href]) =>
    el("a", { href, download: name, id: "dl-" + name.split(".")[0], class: "download", text: name })));
  const cols = ["arm", "reference", "endpoint", "visit_week", "method", "estimate", "ci_low", "ci_high", "p_value"];
  const t = $("#trial-comparisons");
  t.replaceChildren(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { text: c })))),
    el("tbody", {}, ...res.comparisons.map((c) => el("tr", {}, ...cols.map((k) =>
      el("td", { text: typeof c[k] === "number" ? fmt(c[k]) : String(c[k] ?? "—") }))))));
}

// ------------------------------------------------------------------ model tab
function buildModelTab() {
  $("#model-title").textContent = `Model ${MODEL.model.name} ${MODEL.model.version}`;
  $("#model-description").textContent = MODEL.model.description;
  const cols = ["name", "value", "unit", "range", "cv", "confidence", "source"];
  const t = $("#param-table");
  t.replaceChildren(el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", { text: c })))));
  const body = el("tbody");
  for (const p of MODEL.parameters) {
    const tr = el("tr", { "data-param": p.name, tabindex: 0 },
      el("td", {}, el("code", { text: p.name })), el("td", { text: fmt(p.value) }), el("td", { text: p.unit }),
      el("td", { text: p.lower !== null ? `${fmt(p.lower)} – ${fmt(p.upper)}` : "—" }),
      el("td", { text: fmt(p.cv) }), el("td", { text: p.confidence }),
      el("td", { class: "src", text: p.source }));
    tr.addEventListener("click", () => showParam(p.name, tr));
    body.append(tr);
  }
  t.append(body);
  $("#param-filter").addEventListener("input", (e) => {
    const q = e.target.value.toLowerCase();
    for (const tr of $$("tr", body)) {
      const p = PARAMS[tr.dataset.param];
      tr.hidden = q && !(p.name + " " + p.description + " " + p.source).toLowerCase().includes(q);
    }
  });
  const icols = ["name", "kind", "dose_unit", "default_dose", "dose_min", "dose_max", "mechanism", "source"];
  $("#intervention-table").replaceChildren(
    el("thead", {}, el("tr", {}, ...icols.map((c) => el("th", { text: c })))),
    el("tbody", {}, ...MODEL.interventions.map((iv) => el("tr", {}, ...icols.map((k) =>
      el("td", { text: typeof iv[k] === "number" ? fmt(iv[k]) : iv[k] }))))));
}

// ------------------------------------------------------------------ start
async function waitReady() {
  for (;;) {
    try {
      const h = await (await fetch("/api/health")).json();
      if (h.ready) {
        $("#status").textContent = h.error ? "model failed to load: " + h.error : `model ready (gutskin ${h.version})`;
        $("#status").dataset.ready = h.error ? "error" : "1";
        return;
      }
      $("#status").textContent = "preparing the model (the very first start compiles it, about a minute)…";
    } catch (err) {
      $("#status").textContent = "server not reachable";
    }
    await sleep(500);
  }
}

async function init() {
  MODEL = await (await fetch("/api/model")).json();
  for (const p of MODEL.parameters) PARAMS[p.name] = p;
  $("#sim-patients").max = MODEL.limits.patients;
  $("#sex-hint").textContent = "Sex: " + MODEL.covariate_effects.map((e) =>
    `${e.parameter} × ${e.factor} in ${e.sex === "M" ? "males" : "females"} (${e.source})`).join("; ") +
    ". Age is recorded in trials but has no biological effect in the model.";
  $("#sim-days").max = MODEL.limits.days;
  $("#trial-n").max = MODEL.limits.n_per_arm;
  $("#trial-weeks").max = MODEL.limits.duration_weeks;
  const featured = MODEL.baseline_controls.map((c) => c.name);
  for (const c of MODEL.baseline_controls) $("#baseline-main").append(baselineControl(c.name, c.label));
  for (const p of MODEL.parameters.filter((p) => p.per_patient && !featured.includes(p.name))) {
    $("#baseline-other").append(baselineControl(p.name, p.description));
  }
  $("#baseline-reset").addEventListener("click", () => $$("#baseline .baseline-row").forEach((r) => r.reset()));
  regimenRow($("#sim-regimens"), { intervention: "LS03", dose: 1e9, start_day: 0, stop_day: 56, adherence: 0.9 });
  $("#sim-add-regimen").addEventListener("click", () => {
    if ($$("#sim-regimens .regimen").length < MODEL.limits.regimens) {
      regimenRow($("#sim-regimens"), { intervention: "prebiotic_fibre" });
    }
  });
  $("#sim-form").addEventListener("submit", runSimulation);
  for (const radio of $$("input[name=mode]")) {
    radio.addEventListener("change", () => {
      $("#sim-patients").disabled = $("input[name=mode]:checked").value === "typical";
    });
  }
  armRow("placebo", "placebo");
  armRow("LS03", "LS03", 1e9);
  $("#trial-add-arm").addEventListener("click", () => {
    if ($$("#trial-arms .arm").length < MODEL.limits.arms_max) armRow(uniqueArmName("botanical"), "botanical", 1);
  });
  $("#trial-form").addEventListener("submit", runTrial);
  buildModelTab();
  setCausal(await (await fetch("/api/causal.svg")).text(), "");
  document.body.dataset.loaded = "1";
  await waitReady();
}

init();
