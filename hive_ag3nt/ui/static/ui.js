// The agent page, kept live: status and the current turn over SSE (events),
// the turn history, the prompt box, the inbox, the Claude login and a terminal (xterm.js).
// Every URL is relative: the hive's dashboard serves this page under a prefix.
// Text from the agent only ever goes into textContent.
"use strict";

const $ = (id) => document.getElementById(id);
const PANEL_MAX = 400;
const turnStarts = new Map();
const durations = new Map();

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The hive's dashboard frames this page on its own origin and wants its session's
// CSRF token on every POST: it keeps it in a meta tag of the framing page.
// Reached directly (hive-c0re ui) there is no such page and no token is needed.
function csrfHeaders() {
  try {
    if (window.parent === window) return {};
    const meta = window.parent.document.querySelector('meta[name="csrf-token"]');
    return meta && meta.content ? {"X-CSRF-Token": meta.content} : {};
  } catch (err) {
    return {};  // framed by another origin: it gets no token from us
  }
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: {"Content-Type": "application/json", ...csrfHeaders()},
    body: JSON.stringify(body || {}),
  });
  let data;
  try {
    data = await response.json();
  } catch (err) {
    data = {error: `${response.status} ${response.statusText}`};
  }
  return {ok: response.ok, data};
}

// One date format everywhere on the page: local time, as page.py DATE_FORMAT writes it.
// Takes what the JSON carries: RFC 3339 text, or seconds since the epoch.
function when(value) {
  if (value == null) return "";
  const date = typeof value === "number" ? new Date(value * 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
}

function show(pre, result) {
  pre.hidden = false;
  pre.classList.toggle("error", !result.ok);
  pre.textContent = JSON.stringify(result.data, null, 2);
}

// ---- status ---------------------------------------------------------------

// The figures of a turn: its duration, then the cost (none for the stand-in: it is no
// model, and the CLI's price for its answers would be made up), then its tokens.
function figures(turn) {
  const parts = [];
  const ms = turn.duration_ms ?? durations.get(turn.id);
  if (ms != null) parts.push(`${(ms / 1000).toFixed(1)} s`);
  if (turn.stand_in) parts.push("stand-in");
  else if (turn.cost_usd != null) parts.push(`$${turn.cost_usd.toFixed(4)}`);
  if (turn.input_tokens != null) parts.push(`${turn.input_tokens} tokens`);
  return parts;
}

function lastTurnLine(turn) {
  if (!turn) return "no turns yet";
  return [`last turn #${turn.id} ${turn.status}`, ...figures(turn)].join(" · ");
}

const BUSY = new Set(["thinking", "compacting"]);

function showLive(running) {
  $("live-section").hidden = !running;
}

function showStatus(status) {
  const badge = $("state");
  badge.textContent = status.state;
  // "idle (released)" is still idle: the CLI waits ended, the next turn resumes it.
  const released = status.released ? " released" : "";
  badge.className = `badge state-${status.state.split(" ")[0]}${released}`;
  $("login-section").classList.toggle("attention", status.state === "needs-login");
  $("login-section").hidden = !status.login_needed;
  $("stand-in").hidden = !status.stand_in;
  showLive(status.turn_running || BUSY.has(status.state));
  const select = $("model");
  const names = status.available_models.includes(status.model)
    ? status.available_models : [status.model, ...status.available_models];
  const shown = Array.from(select.options, (option) => option.value);
  if (shown.join("\n") !== names.join("\n")) {
    select.replaceChildren(...names.map((name) => el("option", "", name)));
  }
  select.value = status.model;
  $("last-turn").textContent = lastTurnLine(status.last_turn);
}

// ---- the live panel -------------------------------------------------------

function pre(text, className) {
  return el("pre", className || "", typeof text === "string" ? text : JSON.stringify(text, null, 2));
}

function folded(summary, body) {
  const details = el("details");
  details.append(el("summary", "", summary), body);
  return details;
}

// Readable words for the CLI's system messages (the rest read as their subtype's words).
const SYSTEM_WORDS = {
  init: "session started",
  compact_boundary: "context compacted",
};

function replyLine(reply) {
  const line = el("div", reply.ok ? "reply" : "reply failed");
  const verb = {send: "sent to", ask: "asked", answer: "answered"}[reply.tool] || reply.tool;
  line.append(el("span", "reply-to", `↗ ${verb} ${reply.to}${reply.ok ? "" : " (failed)"}`),
    el("span", "reply-body", reply.body.length > 300 ? reply.body.slice(0, 300) + "…" : reply.body));
  return line;
}

// The hive tools that are the agent speaking to someone (words.py REPLY_TOOLS).
const REPLY_TOOLS = {mcp__hive__send: "send", mcp__hive__ask: "ask", mcp__hive__answer: "answer"};

function callReply(e) {
  const tool = REPLY_TOOLS[e.tool];
  const args = e.input || {};
  if (tool === "answer") return {tool, to: `question #${args.question_id}`, body: String(args.answer ?? ""), ok: true};
  const body = tool === "ask" ? args.question : args.body;
  return {tool, to: String(args.to || "operator"), body: String(body ?? ""), ok: true};
}

// Why a turn's CLI had to start again (the runner's resume reasons).
const RESUMED = {idle: "it was ended while idle", growth: "it was restarted for its size",
                 error: "a turn failed", login: "after a login", start: "the harness started",
                 restart: "it was restarted"};

const RENDER = {
  turn_start: (e) => el("div", "", `turn #${e.turn} started (${e.trigger}, ${e.model})`),
  prompt: (e) => folded("prompt", pre(e.text)),
  assistant_text: (e) => pre(e.text, "text"),
  tool_call: (e) => REPLY_TOOLS[e.tool] ? replyLine(callReply(e)) : folded(`→ ${e.tool}`, pre(e.input)),
  tool_result: (e) => folded(e.is_error ? "← error" : "← result", pre(e.content)),
  denial: (e) => folded(`✗ denied ${e.tool}: ${e.reason}`, pre(e.input)),
  stderr: (e) => pre(e.line, "stderr"),
  system: (e) => el("div", "muted", SYSTEM_WORDS[e.subtype] || String(e.subtype).replaceAll("_", " ")),
  result: (e) => el("div", "muted", e.is_error ? `the model's answer ended with ${e.subtype}` : "the model finished"),
  api_retry: (e) => el("div", "muted", `the API answered ${e.error}; retry ${e.attempt ?? ""}`),
  watermark: (e) => el("div", "muted", `context at ${e.tokens} of ${e.window} tokens: compacting next`),
  hive_unreachable: (e) => el("div", "stderr", "a hive tool call did not get through; the mail comes again"),
  new_session: () => el("div", "muted", "new session"),
  resume: (e) => el("div", "muted", `the CLI started again and resumed the session (${RESUMED[e.reason] || e.reason})`),
  turn_end: (e) => {
    const parts = [`turn #${e.turn} ended: ${e.status}`, ...figures({id: e.turn, ...e})];
    if (e.error) parts.push(e.error);
    return el("div", "", parts.join(" · "));
  },
};

function renderEvent(event) {
  const render = RENDER[event.kind] || ((e) => folded(e.kind.replaceAll("_", " "), pre(e)));
  const item = el("li", `event kind-${event.kind}`);
  item.append(render(event));
  return item;
}

function track(event) {
  if (event.kind === "turn_start") turnStarts.set(event.turn, event.at);
  if (event.kind === "turn_end" && turnStarts.has(event.turn)) {
    durations.set(event.turn, event.duration_ms ?? (event.at - turnStarts.get(event.turn)) * 1000);
  }
}

function addEvent(event) {
  track(event);
  if (event.kind === "state" || event.turn == null) return;  // the badge shows states
  const live = $("live");
  if (event.kind === "turn_start") {
    live.replaceChildren();
    showLive(true);
  }
  const item = renderEvent(event);
  live.append(item);
  while (live.childElementCount > PANEL_MAX) live.firstElementChild.remove();
  if (!$("live-section").hidden) item.scrollIntoView({block: "nearest"});
  if (event.kind === "turn_start") refreshInbox();
  if (event.kind === "turn_end") {
    showLive(false);  // the turn is history now
    refreshTurns();
    refreshInbox();
  }
}

// ---- turn history -----------------------------------------------------------

function turnLine(turn) {
  const parts = [`#${turn.id}`, when(turn.started_at), turn.trigger, turn.status, ...figures(turn)];
  if (turn.error) parts.push(turn.error);
  return parts.join(" · ");
}

function turnItem(turn) {
  const item = el("li", `turn status-${turn.status}`);
  const details = el("details");
  const body = el("ol", "live");
  details.append(el("summary", "", turnLine(turn)), body);
  details.addEventListener("toggle", async () => {
    if (!details.open || body.childElementCount) return;
    const response = await fetch(`turns/${turn.id}/events`);
    if (!response.ok) return body.append(el("li", "muted", "its events are gone"));
    const {events} = await response.json();
    body.replaceChildren(...events.filter((e) => e.kind !== "state").map(renderEvent));
  });
  item.append(details, ...turn.replies.map(replyLine));
  return item;
}

async function refreshTurns() {
  const response = await fetch("turns?limit=20");
  if (!response.ok) return;
  const {turns} = await response.json();
  const list = $("turns");
  if (!turns.length) list.replaceChildren(el("li", "muted empty", "no turns yet"));
  else list.replaceChildren(...turns.map(turnItem));
}

function connect() {
  const feed = new EventSource("events");
  feed.onopen = () => $("live").replaceChildren();  // the server replays the last turn
  feed.addEventListener("state", (m) => showStatus(JSON.parse(m.data)));
  feed.addEventListener("event", (m) => addEvent(JSON.parse(m.data)));
  feed.onerror = () => {
    const badge = $("state");
    badge.textContent = "offline";
    badge.className = "badge state-offline";
  };
}

// ---- inbox ----------------------------------------------------------------

function inboxItem(m) {
  const item = el("li");
  const meta = el("div", "meta", `#${m.id} from `);
  meta.append(el("b", "", m.from), " ", el("time", "", when(m.sent_at)));
  if (m.redelivered) meta.append(" ", el("span", "badge redelivered", "redelivered"));
  const body = String(m.body);
  if (m.event_line != null) item.append(meta, el("div", "event-line", m.event_line));
  else item.append(meta, el("div", "body", body.length > 2000 ? body.slice(0, 2000) + "…" : body));
  return item;
}

async function refreshInbox() {
  const response = await fetch("inbox");
  if (!response.ok) return;
  const {messages} = await response.json();
  const list = $("inbox");
  if (!messages.length) list.replaceChildren(el("li", "muted empty", "no mail yet"));
  else list.replaceChildren(...messages.map(inboxItem));
}

// ---- prompt box -----------------------------------------------------------

async function refreshStatus() {
  const response = await fetch("status");
  if (response.ok) showStatus(await response.json());
}

async function send(text) {
  show($("answer"), await post("prompt", {text}));
  await refreshStatus();  // a /model switch changes no state, so no state event tells of it
}

function wirePrompt() {
  $("prompt-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("prompt").value;
    if (!text.trim()) return;
    await send(text);
    $("prompt").value = "";
  });
  $("prompt").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) $("prompt-form").requestSubmit();
  });
  for (const button of document.querySelectorAll("button.command")) {
    button.addEventListener("click", () => send(button.dataset.command));
  }
  $("model").addEventListener("change", (ev) => send(`/model ${ev.target.value}`));
}

// ---- login ----------------------------------------------------------------

function wireLogin() {
  const result = $("login-result");
  $("login-start").addEventListener("click", async () => {
    $("login-start").disabled = true;
    result.hidden = true;
    const answer = await post("login/start");
    $("login-start").disabled = false;
    if (!answer.ok) return show(result, answer);
    const link = $("login-url");
    link.textContent = answer.data.url;
    if (/^https:\/\//.test(answer.data.url)) link.href = answer.data.url;
    $("login-step").hidden = false;
    $("login-code").focus();
  });
  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const answer = await post("login/code", {code: $("login-code").value});
    $("login-code").value = "";
    $("login-step").hidden = true;
    show(result, {ok: answer.ok && answer.data.logged_in, data: answer.data});
  });
}

// ---- terminal -------------------------------------------------------------

let session = null;

function openTerminal() {
  if (session || typeof Terminal === "undefined") {
    if (!session) $("terminal-note").textContent = "xterm.js is not installed with this UI";
    return;
  }
  const term = new Terminal({cursorBlink: true, convertEol: false});
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($("terminal"));
  const url = new URL("terminal", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const encoder = new TextEncoder();
  const resize = () => {
    fit.fit();
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({resize: [term.cols, term.rows]}));
  };
  // Keys typed while the socket still connects are kept and sent once it is open,
  // after the size: the shell sees them as typed, none dropped.
  const early = [];
  ws.onopen = () => {
    resize();
    for (const bytes of early.splice(0)) ws.send(bytes);
    term.focus();
  };
  ws.onmessage = (m) => term.write(new Uint8Array(m.data));
  ws.onclose = (ev) => {
    $("terminal-note").textContent = ev.reason || "terminal closed";
    closeTerminal();
  };
  term.onData((data) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
    else if (ws.readyState === WebSocket.CONNECTING) early.push(encoder.encode(data));
  });
  window.addEventListener("resize", resize);
  session = {term, ws, resize};
  $("terminal-open").hidden = true;
  $("terminal-close").hidden = false;
  $("terminal-note").textContent = "";
}

function closeTerminal() {
  if (!session) return;
  const {term, ws, resize} = session;
  session = null;
  window.removeEventListener("resize", resize);
  ws.close();
  term.dispose();
  $("terminal-open").hidden = false;
  $("terminal-close").hidden = true;
}

function wireTerminal() {
  $("terminal-open").addEventListener("click", openTerminal);
  $("terminal-close").addEventListener("click", closeTerminal);
}

wirePrompt();
wireLogin();
wireTerminal();
refreshTurns();
refreshInbox();  // the page's times are the server's; these are the reader's
connect();
