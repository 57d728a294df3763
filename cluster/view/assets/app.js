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

  // Updates change the page in place: the elements stay, only what
  // differs is written. Rebuilding the tables every second would lose a
  // click pressed across an update (a new button under the pointer by
  // the release) and the text a user selected to copy. Rows are matched
  // by their data-job, data-worker, data-failure(s) key, the rest by
  // position. Clicks are handled on the document (see below), so the
  // elements kept carry no handler from an old render.
  function keyOf(n) {
    if (n.nodeType !== 1) return "";
    for (const a of ["data-job", "data-worker", "data-failure", "data-failures"]) {
      if (n.hasAttribute(a)) return a + "=" + n.getAttribute(a);
    }
    return "";
  }

  function same(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName && keyOf(a) === keyOf(b);
  }

  function morph(from, to) {
    for (const a of Array.from(from.attributes)) {
      if (!to.hasAttribute(a.name)) from.removeAttribute(a.name);
    }
    for (const a of Array.from(to.attributes)) {
      if (from.getAttribute(a.name) !== a.value) from.setAttribute(a.name, a.value);
    }
    if (from.disabled !== undefined) from.disabled = to.disabled;
    morphChildren(from, Array.from(to.childNodes));
  }

  // morphChildren makes parent's children match want, reusing them.
  function morphChildren(parent, want) {
    const keyed = new Map();
    for (const c of parent.childNodes) {
      const k = keyOf(c);
      if (k) keyed.set(k, c);
    }
    want.forEach((t, i) => {
      let f = parent.childNodes[i] || null;
      const k = keyOf(t);
      const match = k ? keyed.get(k) : null;
      if (match && match !== f) {
        parent.insertBefore(match, f);
        f = match;
      }
      if (!f) parent.append(t);
      else if (!same(f, t)) keyOf(f) ? parent.insertBefore(t, f) : f.replaceWith(t);
      else if (f.nodeType === 1) morph(f, t);
      else if (f.nodeValue !== t.nodeValue) f.nodeValue = t.nodeValue;
    });
    while (parent.childNodes.length > want.length) parent.lastChild.remove();
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

  const confirming = (id) => armed.has(id) && Date.now() - armed.get(id) < 5000;

  function cancelButton(job) {
    if (job.state !== "running") return "";
    const key = "cancel " + job.id;
    return el("button", {
      class: "danger", "data-cancel": job.id, disabled: !unlocked || busy.has(key),
      title: unlocked ? "fail its pending calls with ErrJobCancelled, drop its queued tasks, cancel its running ones" : "unlock control first",
      text: busy.has(key) ? "cancelling…" : confirming(job.id) ? "confirm cancel" : "cancel",
    });
  }

  function cancelClicked(id) {
    if (!confirming(id)) {
      armed.set(id, Date.now());
      render();
      setTimeout(render, 5100);
      return;
    }
    armed.delete(id);
    act("cancel " + id, "api/jobs/" + encodeURIComponent(id) + "/cancel", (b) => b.message);
  }

  function rerunButton(job, f) {
    const key = "rerun " + f.id;
    return el("button", {
      "data-rerun": f.id, "data-rerun-job": job.id, disabled: !unlocked || !f.retryable || busy.has(key),
      title: !f.retryable ? (job.state === "running" ? "its argument was too large to keep" : "the job has ended") :
        "run it again with the same argument; the call itself has already failed",
      text: busy.has(key) ? "queuing…" : "rerun",
    });
  }

  function rerunClicked(job, id) {
    act("rerun " + id, "api/jobs/" + encodeURIComponent(job) + "/rerun/" + encodeURIComponent(id), (b) => "Queued again as " + b.id);
  }

  function errorClicked(id) {
    if (!getSelection().isCollapsed) return; // selecting the text to copy it
    expanded.has(id) ? expanded.delete(id) : expanded.add(id);
    render();
  }

  document.addEventListener("click", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest("[data-cancel], [data-rerun], [data-expand]") : null;
    if (!t || t.disabled) return;
    if (t.hasAttribute("data-cancel")) cancelClicked(t.getAttribute("data-cancel"));
    else if (t.hasAttribute("data-rerun")) rerunClicked(t.getAttribute("data-rerun-job"), t.getAttribute("data-rerun"));
    else errorClicked(t.getAttribute("data-expand"));
  });

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
      el("div", { class: "err", "data-expand": f.id, title: "click for the full text", text: first }),
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
    morphChildren($("jobs").tBodies[0], jobs.map(jobRow));
    $("no-jobs").hidden = jobs.length > 0;
    const running = jobs.filter((j) => j.state === "running").length;
    $("jobs-summary").textContent = `${running} running, ${jobs.length - running} ended`;

    morphChildren($("workers").tBodies[0], workers.map(workerRow));
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
    morphChildren($("failures"), sections);
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
