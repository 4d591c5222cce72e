/* Switchboard website chat widget. Served by the daemon at /widget.js.
 * Embed: <script src="https://inbox.example.org/widget.js" data-channel="web-chat" async></script>
 * Optional identity verification: data-user-email and data-user-hash
 * (hex HMAC-SHA256 of the email with the channel's secret).
 * No dependencies; everything lives in a shadow root so the page's CSS
 * cannot reach it. Protocol: docs/chat-protocol.md. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__switchboardChat) return;
  window.__switchboardChat = true;
  var channel = script.getAttribute("data-channel");
  var base = new URL(script.src, location.href);
  var http = base.origin;
  var ws = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/ws/chat?channel=" + encodeURIComponent(channel);
  var userEmail = script.getAttribute("data-user-email");
  var userHash = script.getAttribute("data-user-hash");
  var KEY = "switchboard-chat:" + channel;

  function load(name, fallback) {
    try { var v = localStorage.getItem(KEY + ":" + name); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  }
  function save(name, value) {
    try { localStorage.setItem(KEY + ":" + name, JSON.stringify(value)); } catch (e) { /* private mode */ }
  }

  var state = {
    token: load("token", null),
    pending: load("pending", []), // [{client_id, text}] not acknowledged yet
    open: false, socket: null, ready: false, attempt: 0, timer: null,
    branding: null, availability: null, consentRequired: false, consented: false,
    email: null, unread: 0, typingTimer: null, seen: {}
  };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) node.setAttribute(k, attrs[k]);
    if (text) node.textContent = text;
    return node;
  }

  // A custom element, so that page rules for div and the like miss it.
  var host = el("switchboard-chat", { id: "switchboard-chat" });
  var root = host.attachShadow({ mode: "open" });
  var style = el("style");
  style.textContent =
    ":host{all:initial}[hidden]{display:none!important}*{box-sizing:border-box;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
    ".launcher{position:fixed;right:20px;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;color:#fff;background:var(--c);box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
    ".launcher svg{width:28px;height:28px;fill:currentColor}" +
    ".badge{position:absolute;top:-2px;right:-2px;min-width:20px;height:20px;border-radius:10px;background:#d00;color:#fff;font-size:12px;line-height:20px;padding:0 5px}" +
    ".panel{position:fixed;right:20px;bottom:88px;width:370px;height:560px;max-height:calc(100vh - 110px);display:flex;flex-direction:column;background:#fff;color:#111;border-radius:14px;box-shadow:0 8px 30px rgba(0,0,0,.25);overflow:hidden;z-index:2147483001;font-size:14px}" +
    ".panel[hidden]{display:none}" +
    "header{background:var(--c);color:#fff;padding:14px 16px;display:flex;align-items:center;gap:10px}" +
    "header img{width:36px;height:36px;border-radius:50%;background:#fff}" +
    "header h2{font-size:16px;margin:0;font-weight:600}header p{margin:2px 0 0;font-size:12px;opacity:.9}" +
    "header .close{margin-left:auto;background:transparent;border:0;color:#fff;font-size:24px;cursor:pointer;line-height:1;padding:4px 8px;border-radius:6px}" +
    "button:focus-visible,textarea:focus-visible,input:focus-visible{outline:3px solid #ffbf47;outline-offset:1px}" +
    ".log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:8px;background:#f6f7f9}" +
    ".msg{max-width:80%;padding:8px 12px;border-radius:14px;white-space:pre-wrap;word-wrap:break-word;line-height:1.4}" +
    ".msg small{display:block;font-size:11px;opacity:.75;margin-bottom:2px}" +
    ".visitor{align-self:flex-end;background:var(--c);color:#fff;border-bottom-right-radius:4px}" +
    ".agent,.bot{align-self:flex-start;background:#fff;border:1px solid #e3e5e8;border-bottom-left-radius:4px}" +
    ".pending{opacity:.6}.failed{background:#b00020}" +
    ".note{align-self:center;font-size:12px;color:#555;text-align:center}" +
    ".typing{font-size:12px;color:#555;padding:0 14px 6px;background:#f6f7f9;min-height:18px}" +
    ".away{background:#fff8e1;color:#5d4300;padding:8px 14px;font-size:13px}" +
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid #e3e5e8;background:#fff}" +
    "textarea{flex:1;resize:none;height:42px;border:1px solid #c9ccd1;border-radius:8px;padding:10px;font-size:14px}" +
    "input[type=email]{flex:1;border:1px solid #c9ccd1;border-radius:8px;padding:8px;font-size:14px}" +
    "form button{border:0;border-radius:8px;background:var(--c);color:#fff;padding:0 14px;cursor:pointer;font-size:14px}" +
    ".consent{padding:8px 14px;font-size:13px;background:#fff;border-top:1px solid #e3e5e8}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "@media (max-width:480px){.panel{right:0;bottom:0;width:100vw;height:100vh;max-height:none;border-radius:0}}";
  root.appendChild(style);

  var launcher = el("button", { class: "launcher", type: "button", "aria-haspopup": "dialog", "aria-expanded": "false", "aria-label": "Open chat" });
  launcher.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';
  var badge = el("span", { class: "badge", hidden: "" });
  launcher.appendChild(badge);
  var panel = el("div", { class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "sb-title", hidden: "" });
  var header = el("header");
  var avatar = el("img", { alt: "", hidden: "" });
  var titles = el("div");
  var title = el("h2", { id: "sb-title" }, "Chat");
  var status = el("p", {}, "");
  titles.appendChild(title); titles.appendChild(status);
  var close = el("button", { class: "close", type: "button", "aria-label": "Close chat" }, "\u00d7");
  header.appendChild(avatar); header.appendChild(titles); header.appendChild(close);
  var away = el("div", { class: "away", hidden: "" });
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Messages" });
  var typing = el("div", { class: "typing", "aria-live": "polite" });
  var emailForm = el("form", { class: "email", hidden: "" });
  var emailLabel = el("label", { class: "sr", for: "sb-email" }, "Your email address");
  var emailInput = el("input", { id: "sb-email", type: "email", placeholder: "Your email, to answer you by mail", autocomplete: "email" });
  var emailButton = el("button", { type: "submit" }, "Save");
  emailForm.appendChild(emailLabel); emailForm.appendChild(emailInput); emailForm.appendChild(emailButton);
  var consent = el("div", { class: "consent", hidden: "" });
  var consentBox = el("input", { type: "checkbox", id: "sb-consent" });
  var consentLabel = el("label", { for: "sb-consent" });
  consent.appendChild(consentBox); consent.appendChild(consentLabel);
  var form = el("form", { class: "composer" });
  var inputLabel = el("label", { class: "sr", for: "sb-input" }, "Your message");
  var input = el("textarea", { id: "sb-input", rows: "1", placeholder: "Write a message\u2026" });
  var send = el("button", { type: "submit", "aria-label": "Send message" }, "Send");
  form.appendChild(inputLabel); form.appendChild(input); form.appendChild(send);
  [header, away, log, typing, emailForm, consent, form].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(launcher); root.appendChild(panel);

  function mount() { document.body.appendChild(host); }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  function brand(b) {
    state.branding = b;
    host.style.setProperty("--c", b.color || "#2563eb");
    title.textContent = b.team_name;
    launcher.setAttribute("aria-label", "Open chat with " + b.team_name);
    if (b.avatar_url) { avatar.src = b.avatar_url; avatar.hidden = false; }
    consentLabel.textContent = " " + (b.consent_text || "I agree");
    input.maxLength = b.max_message_chars || 4000;
    if (b.greeting && !log.querySelector("[data-greeting]")) {
      var g = bubble("bot", b.team_name, b.greeting);
      g.setAttribute("data-greeting", "");
      log.insertBefore(g, log.firstChild);
    }
  }

  function avail(a) {
    state.availability = a;
    status.textContent = a.available ? "We're online" : "Away";
    away.textContent = a.away_message || "";
    away.hidden = a.available;
    emailForm.hidden = !(a.ask_email && !state.email);
  }

  function bubble(from, author, text) {
    var node = el("div", { class: "msg " + from });
    if (from !== "visitor" && author) node.appendChild(el("small", {}, author));
    node.appendChild(document.createTextNode(text));
    return node;
  }

  function note(text) { log.appendChild(el("div", { class: "note" }, text)); scroll(); }
  function scroll() { log.scrollTop = log.scrollHeight; }

  function show(m, old) {
    if (state.seen[m.id]) return;
    var node = m.client_id && log.querySelector('[data-client="' + cssEscape(m.client_id) + '"]');
    if (node) { node.classList.remove("pending"); node.setAttribute("data-id", m.id); state.seen[m.id] = 1; return; }
    state.seen[m.id] = 1;
    node = bubble(m.from, m.author, m.text);
    node.setAttribute("data-id", m.id);
    if (m.client_id) node.setAttribute("data-client", m.client_id);
    log.appendChild(node);
    scroll();
    if (m.from !== "visitor") {
      if (state.open) frame({ type: "seen", message_id: m.id });
      else if (!old) { state.unread++; badge.textContent = state.unread; badge.hidden = false; }
    }
  }

  function cssEscape(s) { return String(s).replace(/["\\]/g, "\\$&"); }

  function frame(obj) {
    if (state.socket && state.socket.readyState === 1) { state.socket.send(JSON.stringify(obj)); return true; }
    return false;
  }

  function connect() {
    if (state.socket) return;
    clearTimeout(state.timer);
    var s = new WebSocket(ws);
    state.socket = s;
    s.onopen = function () {
      var hello = { type: "hello", visitor_token: state.token };
      if (userEmail && userHash) { hello.user_email = userEmail; hello.user_hash = userHash; }
      s.send(JSON.stringify(hello));
    };
    s.onmessage = function (e) {
      var m; try { m = JSON.parse(e.data); } catch (x) { return; }
      on(m);
    };
    s.onclose = function (e) {
      state.socket = null; state.ready = false;
      if (e.code === 4401) { state.token = null; save("token", null); }
      // Exponential backoff with full jitter, capped at 30 s; a refused
      // hello (too many new chats from this address) says how long to wait.
      var delay = Math.min(30000, 500 * Math.pow(2, state.attempt++));
      var wait = Math.max(delay / 2 + Math.random() * delay / 2, state.retryAfter || 0);
      state.retryAfter = 0;
      state.timer = setTimeout(connect, wait);
    };
  }

  function on(m) {
    switch (m.type) {
      case "welcome":
        state.ready = true; state.attempt = 0;
        state.token = m.visitor_token; save("token", m.visitor_token);
        state.email = m.email; state.consentRequired = m.consent_required;
        brand(m.branding); avail(m.availability);
        consent.hidden = !state.consentRequired || state.consented;
        m.history.forEach(function (h) { show(h, true); });
        if (state.consented) frame({ type: "consent", accepted: true });
        flush();
        break;
      case "ack":
        state.pending = state.pending.filter(function (p) { return p.client_id !== m.client_id; });
        save("pending", state.pending);
        var node = log.querySelector('[data-client="' + cssEscape(m.client_id) + '"]');
        if (node) { node.classList.remove("pending"); node.setAttribute("data-id", m.message_id); }
        state.seen[m.message_id] = 1;
        break;
      case "message": show(m); typing.textContent = ""; break;
      case "typing":
        typing.textContent = m.on ? (m.agent && m.agent.name || "Someone") + " is typing\u2026" : "";
        clearTimeout(state.typingTimer);
        state.typingTimer = setTimeout(function () { typing.textContent = ""; }, 6000);
        break;
      case "agent_joined": note(m.agent.name + " joined the conversation"); break;
      case "availability": avail(m); break;
      case "email_saved": state.email = m.address; emailForm.hidden = true; note("We'll answer you at " + m.address + " if you leave."); break;
      case "error": error(m); break;
    }
  }

  function error(m) {
    var node = m.client_id && log.querySelector('[data-client="' + cssEscape(m.client_id) + '"]');
    if (m.code === "rate_limited" || m.code === "unavailable") {
      // A long wait (the server cannot store messages now) is told.
      if (m.retry_after_ms > 10000) note(m.message);
      // Before the welcome it is the hello that waits: the socket closes
      // and the reconnect waits as long.
      if (!state.ready) state.retryAfter = m.retry_after_ms;
      else setTimeout(flush, m.retry_after_ms || 2000);
    } else if (m.code === "consent_required") {
      consent.hidden = false; consentBox.focus();
    } else if (m.client_id) {
      state.pending = state.pending.filter(function (p) { return p.client_id !== m.client_id; });
      save("pending", state.pending);
      if (node) { node.classList.remove("pending"); node.classList.add("failed"); node.title = m.message; }
      note(m.message);
    }
  }

  // Resends everything not acknowledged yet, oldest first: the server
  // dedupes by client_id, so a message is never doubled.
  function flush() {
    if (!state.ready) return;
    state.pending.forEach(function (p) { frame({ type: "message", client_id: p.client_id, text: p.text }); });
  }

  function id() {
    return (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) return;
    if (state.consentRequired && !state.consented) { consent.hidden = false; consentBox.focus(); return; }
    var p = { client_id: id(), text: text };
    state.pending.push(p); save("pending", state.pending);
    var node = bubble("visitor", null, text);
    node.classList.add("pending");
    node.setAttribute("data-client", p.client_id);
    log.appendChild(node); scroll();
    input.value = "";
    if (state.ready) frame({ type: "message", client_id: p.client_id, text: p.text }); else connect();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : send.click(); }
  });
  consentBox.addEventListener("change", function () {
    state.consented = consentBox.checked;
    if (state.consented) { frame({ type: "consent", accepted: true }); consent.hidden = true; input.focus(); }
  });
  emailForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (emailInput.value.trim()) frame({ type: "email", address: emailInput.value.trim() });
  });

  function open() {
    state.open = true;
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    state.unread = 0; badge.hidden = true;
    log.querySelectorAll(".agent[data-id],.bot[data-id]").forEach(function (n) { frame({ type: "seen", message_id: n.getAttribute("data-id") }); });
    connect();
    input.focus();
    scroll();
  }
  function shut() {
    state.open = false;
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }
  launcher.addEventListener("click", function () { state.open ? shut() : open(); });
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") shut(); });

  state.pending.forEach(function (p) {
    var node = bubble("visitor", null, p.text);
    node.classList.add("pending");
    node.setAttribute("data-client", p.client_id);
    log.appendChild(node);
  });

  fetch(http + "/chat/" + encodeURIComponent(channel) + "/config")
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (c) { if (c) { brand(c.branding); avail(c.availability); } })
    .catch(function () {});
  // A returning visitor (or unsent messages) reconnects at once, so replies
  // and the unread badge arrive while the panel is closed.
  if (state.token || state.pending.length) connect();
})();
