// svhttpd's page: keeps the table that svhttpd rendered current from
// /v1/events, sends the buttons' commands as the API's POSTs, and follows
// a service's log. It writes text only (textContent), never HTML.
"use strict";

const tbody = document.querySelector("#services tbody");
const msg = document.getElementById("msg");
const live = document.getElementById("live");
const letters = [["u", "up"], ["d", "down"], ["t", "restart"], ["o", "once"]];

function rows() { return Array.from(tbody.rows); }
function rowOf(name) { return rows().find(r => r.dataset.name === name); }
function anyControl() { return rows().some(r => r.dataset.may === "true"); }

// dur writes an uptime as page.go's Duration does.
function dur(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor(s % 3600 / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor(s % 86400 / 3600) + "h";
}

// stateText is page.go's stateText.
function stateText(o) {
  if (o.error !== undefined) return o.error;
  let t = o.state;
  if (o.paused) t += ", paused";
  if (o.wanted && o.wanted !== o.state) t += ", want " + o.wanted;
  return t;
}

function yesNo(b) { return b ? "yes" : "no"; }

// newRow makes an empty row with the cells and buttons of page.html.
function newRow(name, may) {
  const tr = document.createElement("tr");
  tr.dataset.name = name;
  tr.dataset.may = may ? "true" : "false";
  for (const [cls, label] of [["name", "name"], ["state", "state"], ["pid", "pid"], ["uptime", "uptime"],
    ["ready", "ready"], ["restarts", "restarts"], ["lastexit", "last exit"], ["normallyup", "normally up"],
    ["log", "log"], ["control", "control"]]) {
    const td = document.createElement("td");
    td.className = cls;
    td.dataset.label = label;
    tr.appendChild(td);
  }
  const a = document.createElement("a");
  a.href = "#log";
  a.className = "open";
  a.title = "follow its log";
  a.textContent = name;
  tr.cells[0].appendChild(a);
  for (const [cmd, label] of letters) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.cmd = cmd;
    b.textContent = label;
    b.disabled = !may;
    tr.cells[9].append(b, " ");
  }
  return tr;
}

// fill writes a service's object into its row, as page.go's rowOf does.
function fill(tr, o) {
  const c = name => tr.querySelector("td." + name);
  const ok = o.error === undefined;
  tr.className = ok ? o.state : "error";
  c("state").textContent = stateText(o);
  c("pid").textContent = ok && o.pid ? String(o.pid) : "";
  const up = c("uptime");
  up.dataset.since = ok && o.since_ns != null ? String(o.since_ns) : "";
  up.textContent = up.dataset.since ? dur(Date.now() - o.since_ns / 1e6) : "";
  c("ready").textContent = ok && o.ready != null ? yesNo(o.ready) : "";
  c("restarts").textContent = ok && o.restarts != null ? String(o.restarts) : "";
  c("lastexit").textContent = !ok ? "" : o.last_exit_code != null ? "exit " + o.last_exit_code :
    o.last_exit_signal != null ? "signal " + o.last_exit_signal : "";
  c("normallyup").textContent = ok ? yesNo(o.normally_up) : "";
  c("log").textContent = o.log ? stateText(o.log) : "";
  if (o.may_control !== undefined) {
    tr.dataset.may = o.may_control ? "true" : "false";
    for (const b of tr.querySelectorAll("button")) b.disabled = !o.may_control;
  }
}

// place puts a service's row where ASCII order of the names puts it.
function place(tr) {
  const next = rows().find(r => r !== tr && r.dataset.name > tr.dataset.name);
  tbody.insertBefore(tr, next || null);
}

// update shows one service's object; a service not seen before is asked
// for again, for whether this caller may control it.
function update(o) {
  let tr = rowOf(o.name);
  if (!tr) {
    tr = newRow(o.name, false);
    place(tr);
    fetch("/v1/services/" + encodeURIComponent(o.name), {cache: "no-store"})
      .then(r => r.ok ? r.json() : null).then(v => { if (v && rowOf(v.name) === tr) fill(tr, v); })
      .catch(() => {});
  }
  fill(tr, o);
  allButtons();
}

function allButtons() {
  for (const b of document.querySelectorAll("#all button")) b.disabled = !anyControl();
}

function say(text) { msg.textContent = text; }

// send POSTs a command and says what became of it.
async function send(url, what) {
  say(what + "…");
  try {
    const r = await fetch(url, {method: "POST", cache: "no-store"});
    const v = await r.json().catch(() => null);
    if (r.status === 200 && Array.isArray(v)) {
      const bad = v.filter(x => x.status >= 300);
      say(bad.length ? what + ": " + bad.map(x => x.name + " " + x.status + " " + (x.error || "")).join("; ") : what + ": done");
    } else if (r.ok) {
      say(what + ": " + (r.status === 202 ? "sent, not yet taken" : "done"));
      // The answer is the service as it was when the command was taken;
      // while the event stream is live, it has told or will tell newer
      // (the service may well be down before this answer is read).
      if (v && v.name && events.readyState !== EventSource.OPEN) update(v);
    } else {
      say(what + ": " + r.status + " " + (v && v.error ? v.error : r.statusText));
    }
  } catch (e) {
    say(what + ": " + e.message);
  }
}

tbody.addEventListener("click", ev => {
  const b = ev.target.closest("button");
  const tr = ev.target.closest("tr");
  if (!tr) return;
  const name = tr.dataset.name;
  if (b) {
    send("/v1/services/" + encodeURIComponent(name) + "/svc?cmd=" + b.dataset.cmd, b.textContent + " " + name);
    return;
  }
  ev.preventDefault();
  openLog(name);
});

document.getElementById("all").addEventListener("click", ev => {
  const b = ev.target.closest("button");
  if (b) send("/v1/svc?cmd=" + b.dataset.cmd + "&service=*", b.textContent + " all");
});

// The event stream: a snapshot, then one event per change. EventSource
// reconnects by itself, with Last-Event-ID.
const events = new EventSource("/v1/events");
events.onopen = () => { live.textContent = "live"; live.className = "on"; };
events.onerror = () => {
  // EventSource retries by itself, unless the answer was not a stream
  // (401 once the token was removed, say): then only a reload helps.
  live.textContent = events.readyState === EventSource.CLOSED ? "stopped: reload the page" : "reconnecting";
  live.className = "off";
};
events.addEventListener("snapshot", ev => {
  const list = JSON.parse(ev.data);
  const names = new Set(list.map(o => o.name));
  for (const tr of rows()) if (!names.has(tr.dataset.name)) tr.remove();
  for (const o of list) update(o);
});
events.addEventListener("state", ev => update(JSON.parse(ev.data)));
events.addEventListener("removed", ev => {
  const tr = rowOf(JSON.parse(ev.data).name);
  if (tr) tr.remove();
  allButtons();
});

setInterval(() => {
  for (const td of tbody.querySelectorAll("td.uptime")) {
    if (td.dataset.since) td.textContent = dur(Date.now() - Number(td.dataset.since) / 1e6);
  }
}, 1000);

// The log panel follows one service's log (the lines endpoint, follow=1).
const logBox = document.getElementById("log");
const logLines = document.getElementById("loglines");
let logStream = null;
const maxShown = 1000;

function closeLog() {
  if (logStream) logStream.close();
  logStream = null;
  logBox.hidden = true;
}

function openLog(name) {
  closeLog();
  document.getElementById("logname").textContent = name;
  logLines.textContent = "";
  logBox.hidden = false;
  logStream = new EventSource("/v1/services/" + encodeURIComponent(name) + "/lines?n=50&follow=1");
  logStream.addEventListener("line", ev => {
    const l = JSON.parse(ev.data);
    const stick = logLines.scrollTop + logLines.clientHeight >= logLines.scrollHeight - 4;
    logLines.append(l.time + " " + l.line + "\n");
    while (logLines.childNodes.length > maxShown) logLines.firstChild.remove();
    if (stick) logLines.scrollTop = logLines.scrollHeight;
  });
  logStream.onerror = () => {
    if (logStream && logStream.readyState === EventSource.CLOSED) logLines.append("(the log cannot be read)\n");
  };
  logBox.scrollIntoView();
}

document.getElementById("logclose").addEventListener("click", closeLog);
