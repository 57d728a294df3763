// crew's live view: renders /api/events (server-sent events, or /api/state
// polled every second when they fail) and sends the control requests.
// Every text from the cluster goes through textContent, never HTML.
"use strict";

(function () {
  let page = null;        // the latest Page
  let token = "";         // the cluster token typed in; kept in memory only
  let unlocked = false;   // control requests allowed from this page
  const expanded = new Set(); // failure ids whose full error is shown
  const armed = new Map();    // job id → time its cancel button was first clicked
  const busy = new Set();     // requests in flight, by key

  const $ = (id) => document.getElementById(id);

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k.startsWith("data-")) e.setAttribute(k, v);
      else if (k in e) e[k] = v;
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const num = (n) => Number(n || 0).toLocaleString("en-US");

  function rate(r) {
    if (!r) return "0";
    if (r >= 100) return num(Math.round(r));
    if (r >= 10) return r.toFixed(1);
    return r.toFixed(2);
  }

  function dur(s) {
    if (!s) return "–";
    if (s < 1e-3) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + " ms";
    if (s < 60) return s.toFixed(2) + " s";
    return age(s);
  }

  function age(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return s + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + (s % 60) + "s";
    const h = Math.floor(m / 60);
    if (h < 48) return h + "h " + (m % 60) + "m";
    return Math.floor(h / 24) + "d " + (h % 24) + "h";
  }

  function since(t) {
    return (Date.parse(page.time) - Date.parse(t)) / 1000;
  }

  function time(t) {
    const d = new Date(t);
    return d.toLocaleTimeString("en-GB", { hour12: false });
  }

  function spark(values) {
    const w = 120, h = 24, n = values.length;
    const top = Math.max(1, ...values);
    const pts = values.map((v, i) => [(i * w) / (n - 1), h - 1 - (v / top) * (h - 3)]);
    const line = pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", w);
    svg.setAttribute("height", h);
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    const title = document.createElementNS(ns, "title");
    title.textContent = `calls completed per second, last ${n} s (peak ${num(top)}/s)`;
    const area = document.createElementNS(ns, "polygon");
    area.setAttribute("points", `0,${h} ${line} ${w},${h}`);
    const pl = document.createElementNS(ns, "polyline");
    pl.setAttribute("points", line);
    svg.append(title, area, pl);
    return svg;
  }

  function badge(state) {
    return el("span", { class: "badge " + state, text: state });
  }

  // --- control ------------------------------------------------------------

  function toast(msg, bad) {
    const t = $("toast");
    t.textContent = msg;
    t.className = bad ? "bad" : "";
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => (t.hidden = true), 6000);
  }

  async function post(path) {
    const headers = { "X-Crew-Control": "1" };
    if (token) headers["Authorization"] = "Bearer " + token;
    const r = await fetch(path, { method: "POST", headers, credentials: "omit", cache: "no-store" });
    let body = {};
    try { body = await r.json(); } catch (e) { /* no body */ }
    if (!r.ok) throw new Error(body.error || r.status + " " + r.statusText);
    return body;
  }

  function renderControl() {
    const mode = page ? page.control : "";
    const text = $("control-mode");
    $("token").hidden = !(mode === "token" && !unlocked);
    $("unlock").hidden = !(mode === "token" && !unlocked);
    $("lock").hidden = !(mode === "token" && unlocked);
    if (mode === "token") text.textContent = unlocked ? "control unlocked" : "read-only until unlocked";
    else if (mode === "open") text.textContent = "control open: the cluster takes no credentials";
    else if (mode === "off") text.textContent = "read-only: the cluster uses nkeys (crew cancel --nkey)";
    if (mode === "open") unlocked = true;
    if (mode === "off") unlocked = false;
  }

  $("control").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const typed = $("token").value;
    if (!typed) return;
    token = typed;
    try {
      await post("api/auth");
      unlocked = true;
      $("token").value = "";
      toast("Control unlocked: cancel and rerun buttons are enabled.");
    } catch (e) {
      token = "";
      toast("Not unlocked: " + e.message, true);
    }
    render();
  });

  $("lock").addEventListener("click", () => {
    token = "";
    unlocked = false;
    render();
  });

  async function act(key, path, done) {
    busy.add(key);
    render();
    try {
      const body = await post(path);
      toast(done(body));
    } catch (e) {
      toast(e.message, true);
    } finally {
      busy.delete(key);
      render();
    }
  }

  function cancelButton(job) {
    if (job.state !== "running") return "";
    const key = "cancel " + job.id;
    const confirming = armed.has(job.id) && Date.now() - armed.get(job.id) < 5000;
    return el("button", {
      class: "danger", "data-cancel": job.id, disabled: !unlocked || busy.has(key),
      title: unlocked ? "fail its pending calls with ErrJobCancelled, drop its queued tasks, cancel its running ones" : "unlock control first",
      text: busy.has(key) ? "cancelling…" : confirming ? "confirm cancel" : "cancel",
      onclick: () => {
        if (!confirming) {
          armed.set(job.id, Date.now());
          render();
          setTimeout(render, 5100);
          return;
        }
        armed.delete(job.id);
        act(key, "api/jobs/" + encodeURIComponent(job.id) + "/cancel", (b) => b.message);
      },
    });
  }

  function rerunButton(job, f) {
    const key = "rerun " + f.id;
    return el("button", {
      "data-rerun": f.id, disabled: !unlocked || !f.retryable || busy.has(key),
      title: !f.retryable ? (job.state === "running" ? "its argument was too large to keep" : "the job has ended") :
        "run it again with the same argument; the call itself has already failed",
      text: busy.has(key) ? "queuing…" : "rerun",
      onclick: () => act(key, "api/jobs/" + encodeURIComponent(job.id) + "/rerun/" + encodeURIComponent(f.id), (b) => "Queued again as " + b.id),
    });
  }

  // --- tables -------------------------------------------------------------

  function jobRow(j) {
    const who = el("td", {}, el("span", { text: j.program || "?" }), el("span", { class: "sub", text: (j.host || "?") + " pid " + (j.pid || "?") }));
    const name = el("td", {}, el("span", { class: "id", text: j.id }),
      el("span", { class: "sub", title: j.label || j.tasks.join(", "), text: j.label || j.tasks.join(", ") || "–" }));
    const state = el("td", { title: j.reason || "" }, badge(j.state));
    const failed = el("td", { class: "n" + (j.failed ? " bad" : ""), text: num(j.failed) });
    if (j.cancelled) failed.append(el("span", { class: "sub", text: "+" + num(j.cancelled) + " cancelled" }));
    const retried = el("td", { class: "n", title: `${num(j.retries)} retries after errors, ${num(j.redelivered)} redeliveries`, text: num(j.retried) });
    return el("tr", { "data-job": j.id, class: j.state === "running" ? "" : "ended" },
      name, who, state,
      el("td", { class: "n", "data-col": "queued", text: num(j.queued) }),
      el("td", { class: "n", "data-col": "in_flight", text: num(j.in_flight) }),
      el("td", { class: "n", "data-col": "done", text: num(j.done) }),
      failed, retried,
      el("td", { class: "n", text: rate(j.rate_10s) + " / " + rate(j.rate) }),
      el("td", {}, spark(j.spark)),
      el("td", { class: "n", text: j.p50_s ? dur(j.p50_s) + " / " + dur(j.p99_s) : "–" }),
      el("td", { class: "n", text: age(j.age_s) }),
      el("td", {}, cancelButton(j)));
  }

  function workerRow(w) {
    const state = w.draining ? "draining" : w.quiet ? "quiet" : "live";
    const pct = w.slots ? Math.min(100, (100 * w.busy) / w.slots) : 0;
    return el("tr", { "data-worker": w.id, class: w.quiet ? "ended" : "" },
      el("td", { text: w.host }),
      el("td", { class: "n", text: w.pid }),
      el("td", {}, badge(state)),
      el("td", {}, el("span", { class: "meter" }, el("i", { style: `width:${pct}%` })), `${num(w.busy)} / ${num(w.slots)}`),
      el("td", { class: "n", "data-col": "done", text: num(w.done) }),
      el("td", { class: "n" + (w.failed ? " bad" : ""), text: num(w.failed) }),
      el("td", { class: "n", text: age(since(w.heartbeat)) + " ago" }),
      el("td", {}, el("span", { class: "sub", title: w.tasks.join("\n"), text: w.tasks.join(", ") })),
      el("td", {}, el("span", { class: "sub", text: w.version })));
  }

  function failureRows(job, f) {
    const first = f.error.split("\n")[0];
    const open = expanded.has(f.id);
    const err = el("td", {},
      el("div", { class: "err", title: "click for the full text", text: first,
        onclick: () => { open ? expanded.delete(f.id) : expanded.add(f.id); render(); } }),
      open ? el("pre", { class: "full", text: f.error }) : null);
    const reruns = (f.reruns || []).map((r) =>
      el("div", { class: "rerun " + (r.ok ? "ok" : "bad"), title: r.error || "", text: `rerun ${time(r.time)}: ${r.ok ? "ok" : "failed: " + r.error.split("\n")[0]}` }));
    return el("tr", { "data-failure": f.id },
      el("td", { text: time(f.time) }),
      el("td", { class: "id", text: f.task }),
      el("td", { class: "id", text: f.id }),
      err,
      el("td", { text: f.worker || "–" }),
      el("td", { class: "n", text: f.attempts }),
      el("td", {}, rerunButton(job, f), reruns));
  }

  function render() {
    if (!page) return;
    renderControl();
    const jobs = page.jobs || [], workers = page.workers || [];
    $("jobs").tBodies[0].replaceChildren(...jobs.map(jobRow));
    $("no-jobs").hidden = jobs.length > 0;
    const running = jobs.filter((j) => j.state === "running").length;
    $("jobs-summary").textContent = `${running} running, ${jobs.length - running} ended`;

    $("workers").tBodies[0].replaceChildren(...workers.map(workerRow));
    $("no-workers").hidden = workers.length > 0;
    const live = workers.filter((w) => !w.quiet);
    const slots = live.reduce((a, w) => a + w.slots, 0), inUse = live.reduce((a, w) => a + w.busy, 0);
    $("workers-summary").textContent = `${live.length} live · ${num(inUse)} of ${num(slots)} slots busy`;

    const sections = jobs.filter((j) => j.failures && j.failures.length).map((j) =>
      el("div", { "data-failures": j.id },
        el("h3", {}, el("span", { class: "id", text: j.id }), " ", el("small", { text: (j.label || j.program || "") + ` — ${num(j.failed)} failed` })),
        el("div", { class: "scroll" }, el("table", {},
          el("thead", {}, el("tr", {}, ["Time", "Task", "Call", "Error", "Worker", "Attempts", ""].map((h) => el("th", { text: h, class: h === "Attempts" ? "n" : "" })))),
          el("tbody", {}, j.failures.map((f) => failureRows(j, f)))))));
    $("failures").replaceChildren(...sections);
    $("no-failures").hidden = sections.length > 0;
  }

  // --- data ---------------------------------------------------------------

  function show(data) {
    page = JSON.parse(data);
    $("status").textContent = "live · " + time(page.time);
    $("status").className = "status live";
    render();
  }

  function down() {
    $("status").textContent = "disconnected: retrying";
    $("status").className = "status down";
  }

  function poll() {
    fetch("api/state", { cache: "no-store" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then(show, down)
      .finally(() => setTimeout(poll, 1000));
  }

  if (window.EventSource) {
    const es = new EventSource("api/events");
    let opened = false;
    es.onmessage = (ev) => { opened = true; show(ev.data); };
    es.onerror = () => {
      if (!opened) { es.close(); poll(); } // no streaming here: poll instead
      else down(); // EventSource reconnects by itself
    };
  } else {
    poll();
  }
})();
