// sanas dashboard: plain JS, no build step; charts by the vendored uPlot.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const body = document.body;
const main = $("#main");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const err = new Error((data && data.error) || `${response.status}`);
    // Retry-After: the dashboard is busy (503: every watch slot shows an open page, or
    // too many exports) or still loading the study (504); the page tries again then.
    err.retryAfter = Number(response.headers.get("retry-after")) || 0;
    throw err;
  }
  return data;
}

const fmt = (x, digits = 4) => (x === null || x === undefined ? "-" : Number(x).toPrecision(digits));
const num = (x) => (x === null || x === undefined ? "-" : Number(x).toLocaleString("en-US"));
function ago(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 90) return `${seconds.toFixed(0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(0)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
const when = (t) => (t ? new Date(t * 1000).toLocaleString() : "-");
const studyUrl = (id) => `/study/${encodeURIComponent(id)}`;
const apiStudy = (id) => `/api/studies/${encodeURIComponent(id)}`;

function setLive(text, ok = true) {
  const live = $("#live");
  live.textContent = text;
  live.className = ok ? "live ok" : "live bad";
}

function showError(err) {
  setLive(String(err.message || err), false);
}

// -- studies page -------------------------------------------------------------------------
async function studiesPage() {
  $("#crumbs").textContent = `controller ${body.dataset.controller}`;
  const table = el("table", { id: "studies" });
  main.append(el("h1", {}, "Studies"), table);
  async function refresh() {
    try {
      const { studies } = await api("/api/studies");
      table.replaceChildren(
        el("tr", {}, ...["study", "state", "budget used", "best reward", "trainers alive",
          "running trials (lease age)"].map((h) => el("th", {}, h))),
      );
      for (const s of studies) {
        const running = s.running.map((r) => `#${r.trial_id} ${r.client_id} (${ago(r.lease_age)})`);
        table.append(el("tr", { "data-study": s.study_id },
          el("td", {}, el("a", { href: studyUrl(s.study_id) }, s.study_id)),
          el("td", { class: `state ${s.state}` }, s.state),
          el("td", {}, `${num(s.used)} / ${num(s.search_steps)}`),
          el("td", {}, fmt(s.best_reward, 6)),
          el("td", {}, `${s.trainers_alive.length}`, el("span", { class: "muted" },
            s.trainers_alive.length ? ` (${s.trainers_alive.join(", ")})` : "")),
          el("td", { class: "small" }, running.join(", ") || "-")));
      }
      if (!studies.length) table.append(el("tr", {}, el("td", { colspan: 6 }, "no studies yet")));
      setLive(`updated ${new Date().toLocaleTimeString()}`);
    } catch (err) {
      showError(err);
    }
  }
  // The next refresh is scheduled when this one ends: while the controller is down a
  // refresh takes seconds, and a fixed interval would pile requests up.
  const loop = async () => {
    await refresh();
    setTimeout(loop, 3000);
  };
  await loop();
}

// -- study page ---------------------------------------------------------------------------
function chart(target, title, series, opts = {}) {
  const width = Math.max(320, Math.min(target.clientWidth || 560, 900));
  return new uPlot({
    title, width, height: 200,
    scales: { x: { time: false }, ...(opts.scales || {}) },
    axes: [{ label: opts.xlabel || "trial" }, { size: 60 }],
    series: [{ label: opts.xlabel || "trial" }, ...series],
    cursor: { drag: { x: true, y: false } },
    legend: { show: opts.legend !== false },
  }, opts.data || [[], ...series.map(() => [])], target);
}

function blocksView(best) {
  if (!best) return el("p", { class: "muted" }, "no decoded architecture (custom token space or no result yet)");
  const box = el("div", { class: "arch" });
  box.append(el("p", {}, `FLOPs ${num(best.flops)} · params ${num(best.params)} at ${best.input_size}×${best.input_size}`));
  for (const a of best.architectures) {
    const row = el("div", { class: "blocks" }, el("span", { class: "space" }, `${a.space} (in ${a.in_channels})`));
    for (const b of a.blocks) {
      const extra = b.kind === "inverted_residual" ? ` e${b.expansion} ×${b.repeats}` : b.repeats > 1 ? ` ×${b.repeats}` : "";
      row.append(el("div", { class: `block ${b.kind}`, title: JSON.stringify(b) },
        el("b", {}, b.kind.replace(/_/g, " ")),
        el("span", {}, `${b.out_channels} ch`),
        el("span", {}, `${b.kernel}×${b.kernel} s${b.stride}${extra}`)));
    }
    box.append(row);
  }
  return box;
}

const TABLE_STATE = { offset: 0, limit: 25, sort: "trial", desc: true, state: "", trainer: "", reward_min: "", reward_max: "", time_min: "", time_max: "" };

function tableQuery(extra = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...TABLE_STATE, ...extra })) {
    if (v === "" || v === null) continue;
    q.set(k, k === "desc" ? (v ? "1" : "0") : String(v));
  }
  return q.toString();
}

async function studyPage() {
  const id = body.dataset.study;
  $("#crumbs").append(" / ", el("a", { href: studyUrl(id) }, id));
  const summary = el("div", { id: "summary", class: "cards" });
  const charts = el("div", { class: "charts" });
  const cReward = el("div", { id: "chart-reward" });
  const cTemp = el("div", { id: "chart-temp" });
  const cAcc = el("div", { id: "chart-acc" });
  const cCurves = el("div", { id: "chart-curves" });
  charts.append(cReward, cTemp, cAcc, cCurves);
  const bestBox = el("div", { id: "best" });
  const trainers = el("table", { id: "trainers" });
  const events = el("ol", { id: "events", class: "small" });
  main.append(el("h1", {}, `Study ${id}`), summary, charts,
    el("h2", {}, "Best architecture"), bestBox,
    el("div", { class: "two" },
      el("section", {}, el("h2", {}, "Trainers"), trainers),
      el("section", {}, el("h2", {}, "Recent events"), events)),
    el("h2", {}, "Trials"), trialsTable(id));
  if (body.dataset.allowDelete === "1") main.append(deleteBox(id));

  let plots = null;
  let info = null;
  function drawSummary(s) {
    const c = s.counts;
    const acc = s.accepted_moves + s.rejected_moves ? s.accepted_moves / (s.accepted_moves + s.rejected_moves) : null;
    summary.replaceChildren(
      ...[["state", s.state, "state"], ["budget used", `${num(s.used)} / ${num(s.search_steps)}`, "used"],
        ["completed", num(s.completed), "completed"], ["running", num(c.active), "running"],
        ["best reward", fmt(s.best_reward, 6), "best"], ["temperature", fmt(s.temperature, 4), "temperature"],
        ["acceptance", acc === null ? "-" : `${(100 * acc).toFixed(1)} %`, "acceptance"],
        ["stopped early", num(c.stopped), "stopped"], ["infeasible", num(c.infeasible), "infeasible"],
        ["skipped", num(c.skipped), "skipped"], ["policy", s.policy, "policy"]]
        .map(([label, value, key]) => el("div", { class: "card" }, el("small", {}, label), el("strong", { id: `s-${key}` }, value))));
  }
  function drawTrainers(list) {
    trainers.replaceChildren(el("tr", {}, ...["trainer", "trials", "running", "last contact"].map((h) => el("th", {}, h))));
    for (const t of list) trainers.append(el("tr", {}, el("td", {}, t.client_id), el("td", {}, num(t.trials)), el("td", {}, num(t.running)), el("td", {}, `${ago(t.age)} ago`)));
  }
  async function loadInfo() {
    info = await api(apiStudy(id));
    drawSummary(info);
    drawTrainers(info.trainers);
    bestBox.replaceChildren(blocksView(info.best));
  }
  async function loadSeries() {
    const s = await api(`${apiStudy(id)}/series`);
    const curveData = curvesData(s.curves);
    if (!plots) {
      plots = {
        reward: chart(cReward, "reward and best so far", [
          { label: "reward", stroke: "#1f77b4", width: 0, points: { show: true, size: 4, fill: "#1f77b4" } },
          { label: "best so far", stroke: "#d62728", width: 2 }]),
        temp: chart(cTemp, "temperature", [{ label: "T", stroke: "#ff7f0e", width: 2 }], { scales: { y: { distr: 3 } } }),
        acc: chart(cAcc, `acceptance (last ${s.window})`, [{ label: "rate", stroke: "#2ca02c", width: 2 }], { scales: { y: { range: [0, 1] } } }),
        curves: null,
      };
    }
    plots.reward.setData([s.trial, s.reward, s.best]);
    plots.temp.setData([s.trial, s.temperature]);
    plots.acc.setData([s.trial, s.acceptance]);
    if (curveData.series.length) {
      if (plots.curves) plots.curves.destroy();
      plots.curves = chart(cCurves, `learning curves (${s.curves.filter((c) => c.stopped).length} stopped early, dashed)`,
        curveData.series, { xlabel: "step", data: curveData.data, legend: false });
    }
    cReward.dataset.points = String(s.trial.length);
  }
  function curvesData(curves) {
    const steps = [...new Set(curves.flatMap((c) => c.points.map((p) => p[0])))].sort((a, b) => a - b);
    const pos = new Map(steps.map((s, i) => [s, i]));
    const data = [steps];
    const series = [];
    for (const c of curves.slice(0, 60)) {
      const ys = steps.map(() => null);
      for (const [st, v] of c.points) ys[pos.get(st)] = v;
      data.push(ys);
      series.push({ label: `#${c.trial_id}${c.stopped ? " stopped" : ""}`, stroke: c.stopped ? "#999" : "#1f77b4", dash: c.stopped ? [4, 4] : undefined, width: 1, spanGaps: true, points: { show: false } });
    }
    return { data, series };
  }
  // Live: one EventSource; redraws are throttled so a busy study cannot flood the page.
  let pending = false;
  function soon() {
    if (pending) return;
    pending = true;
    setTimeout(async () => {
      pending = false;
      try { await Promise.all([loadInfo(), loadSeries(), window.refreshTrials()]); } catch (err) { showError(err); }
    }, 700);
  }
  function onEvent(e) {
    const m = JSON.parse(e.data);
    if (m.type === "error") { setLive(m.message, false); return; }
    setLive("live");
    if (m.study) drawSummary({ ...info, ...m.study });
    if (m.trial) {
      const t = m.trial;
      const text = `${m.type.replace(/_/g, " ")} #${t.trial_id} by ${t.client_id}` + (t.reward !== null ? ` reward ${fmt(t.reward)}` : "");
      events.prepend(el("li", {}, `${new Date().toLocaleTimeString()} ${text}`));
      while (events.children.length > 15) events.lastChild.remove();
    }
    if (m.type !== "hello") soon();
  }
  function connect() {
    const source = new EventSource(`${apiStudy(id)}/events`);
    source.onopen = () => setLive("live");
    source.onmessage = onEvent;
    source.onerror = () => {
      // A refused stream (503) is not retried by the browser: try again in a while.
      if (source.readyState === EventSource.CLOSED) {
        setLive("live updates paused, retrying in 10 s", false);
        setTimeout(connect, 10000);
      } else {
        setLive("reconnecting...", false);
      }
    };
  }
  async function start() {
    try {
      await loadInfo();
      await loadSeries();
    } catch (err) {
      showError(err);
      if (err.retryAfter) setTimeout(start, err.retryAfter * 1000);
      return;
    }
    connect();
  }
  await start();
}

function trialsTable(id) {
  const box = el("section", { id: "trials-box" });
  const form = el("form", { id: "filters", class: "filters" });
  const stateSel = el("select", { name: "state", id: "f-state" },
    ...["", "active", "succeeded", "infeasible", "stopped", "skipped"].map((s) => el("option", { value: s }, s || "any state")));
  const trainer = el("input", { name: "trainer", id: "f-trainer", placeholder: "trainer", maxlength: "200" });
  const rmin = el("input", { name: "reward_min", id: "f-reward-min", placeholder: "reward ≥", size: "8", maxlength: "40" });
  const rmax = el("input", { name: "reward_max", id: "f-reward-max", placeholder: "reward ≤", size: "8", maxlength: "40" });
  const tmin = el("input", { name: "time_min", id: "f-time-min", type: "datetime-local" });
  const tmax = el("input", { name: "time_max", id: "f-time-max", type: "datetime-local" });
  const csv = el("a", { id: "csv", href: "#" }, "CSV");
  form.append(stateSel, trainer, rmin, rmax, el("label", {}, "from ", tmin), el("label", {}, "to ", tmax),
    el("button", { type: "submit", id: "f-apply" }, "filter"), csv);
  const table = el("table", { id: "trials" });
  const pager = el("div", { class: "pager" });
  const status = el("span", { id: "page-status" });
  const prev = el("button", { id: "prev", type: "button" }, "‹ prev");
  const next = el("button", { id: "next", type: "button" }, "next ›");
  pager.append(prev, status, next);
  box.append(form, table, pager);
  const columns = [["trial", "trial"], ["state", "state"], ["reward", "reward"], ["step", null], ["value", null], ["accepted", null], ["T", null], ["trainer", "trainer"], ["created", "time"]];
  const stamp = (v) => (v ? String(new Date(v).getTime() / 1000) : "");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    Object.assign(TABLE_STATE, { offset: 0, state: stateSel.value, trainer: trainer.value.trim(), reward_min: rmin.value.trim(), reward_max: rmax.value.trim(), time_min: stamp(tmin.value), time_max: stamp(tmax.value) });
    refresh();
  });
  prev.onclick = () => { TABLE_STATE.offset = Math.max(0, TABLE_STATE.offset - TABLE_STATE.limit); refresh(); };
  next.onclick = () => { TABLE_STATE.offset += TABLE_STATE.limit; refresh(); };
  async function refresh() {
    let page;
    try {
      page = await api(`${apiStudy(id)}/trials?${tableQuery()}`);
    } catch (err) {
      status.textContent = `error: ${err.message}`;
      status.className = "bad";
      return;
    }
    status.className = "";
    csv.href = `${apiStudy(id)}/trials.csv?${tableQuery({ offset: "", limit: "" })}`;
    const head = el("tr", {});
    for (const [label, key] of columns) {
      const arrow = key && TABLE_STATE.sort === key ? (TABLE_STATE.desc ? " ▼" : " ▲") : "";
      const th = el("th", key ? { class: "sortable", "data-sort": key } : {}, label + arrow);
      if (key) th.onclick = () => {
        TABLE_STATE.desc = TABLE_STATE.sort === key ? !TABLE_STATE.desc : key !== "trainer";
        TABLE_STATE.sort = key;
        TABLE_STATE.offset = 0;
        refresh();
      };
      head.append(th);
    }
    table.replaceChildren(head);
    for (const t of page.trials) {
      table.append(el("tr", { "data-trial": t.trial_id, class: `row ${t.state}` },
        el("td", {}, el("a", { href: `${studyUrl(id)}/trial/${t.trial_id}` }, `#${t.trial_id}`)),
        el("td", { class: `state ${t.state}` }, t.state),
        el("td", { class: "reward" }, fmt(t.reward, 6)),
        el("td", {}, t.last_step === null ? "" : `${t.last_step}/${t.max_step || "?"}`),
        // The last progress value: a stopped trial's is its reward only if the study says so.
        el("td", { class: "value" }, t.last_value === null ? "" : fmt(t.last_value, 6)),
        el("td", {}, t.accepted ? "yes" : ""),
        el("td", {}, fmt(t.temperature, 3)),
        el("td", { class: "trainer" }, t.client_id),
        el("td", { class: "small" }, when(t.create_time))));
    }
    const last = Math.min(page.total, page.offset + page.trials.length);
    status.textContent = ` ${page.total ? page.offset + 1 : 0}–${last} of ${num(page.total)} `;
    table.dataset.total = String(page.total);
    prev.disabled = page.offset === 0;
    next.disabled = last >= page.total;
  }
  window.refreshTrials = refresh;
  refresh();
  return box;
}

function deleteBox(id) {
  const input = el("input", { id: "confirm-id", placeholder: `type ${id} to delete`, maxlength: "128" });
  const button = el("button", { id: "delete", type: "button", class: "danger" }, "delete study");
  const note = el("span", { id: "delete-note" });
  button.onclick = async () => {
    try {
      await api(`${apiStudy(id)}/delete`, { method: "POST", headers: { "content-type": "application/json", "x-sanas-dashboard": "1" }, body: JSON.stringify({ confirm: input.value }) });
      location.href = "/";
    } catch (err) { note.textContent = err.message; }
  };
  const soft = el("p", {}, `The delete is soft: the study stops taking trials, and an admin can restore it as it was (sanas undelete ${id}) until the controller's retention runs out.`);
  return el("section", { class: "danger-zone" }, el("h2", {}, "Delete"), soft, input, button, note);
}

// -- trial page ---------------------------------------------------------------------------
async function trialPage() {
  const id = body.dataset.study;
  const trialId = body.dataset.trial;
  $("#crumbs").append(" / ", el("a", { href: studyUrl(id) }, id), ` / trial #${trialId}`);
  try {
    const t = await api(`${apiStudy(id)}/trials/${trialId}`);
    const rows = [["state", t.state], ["reward", fmt(t.reward, 6)], ["last value", t.last_value === null ? "-" : fmt(t.last_value, 6)], ["accepted", t.accepted ? "yes" : "no"],
      ["temperature", fmt(t.temperature, 4)], ["trainer", t.client_id], ["issued", `${t.issue_count}×`],
      ["created", when(t.create_time)], ["completed", when(t.complete_time)],
      ["stop reason", t.stop_reason || "-"], ["tokens", t.tokens.join(" ")]];
    main.append(el("h1", {}, `Trial #${t.trial_id}`),
      el("table", { id: "trial-detail" }, ...rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { "data-field": k }, v)))),
      el("h2", {}, "Architecture"), blocksView(t.architecture));
    if (t.measurements.length) {
      const box = el("div", { id: "trial-curve" });
      main.append(el("h2", {}, "Learning curve"), box);
      if (t.measurements_reported > t.measurements.length) {
        main.append(el("p", { class: "muted small", id: "curve-note" },
          `${num(t.measurements_reported)} points reported; the dashboard keeps the lowest and highest of each of ${num(Math.ceil(t.measurements.length / 2))} equal step ranges`));
      }
      chart(box, "reported value", [{ label: "value", stroke: "#1f77b4", width: 2 }],
        { xlabel: "step", data: [t.measurements.map((m) => m[0]), t.measurements.map((m) => m[1])] });
    }
    setLive("loaded");
  } catch (err) {
    main.append(el("p", { class: "bad" }, String(err.message)));
    showError(err);
  }
}

({ studies: studiesPage, study: studyPage, trial: trialPage })[body.dataset.page]();
