// Switchboard web inbox: the live events socket. Follows the event log from
// the sequence number the page started at (`since`), and after any drop
// (network, laptop asleep) reconnects from the last event it saw, so
// nothing is missed; events at or below that number are ignored, so
// nothing is applied twice.

let lastSeq = 0;
let socket = null;
let retryDelay = 500;
let retryTimer = null;
let handlers = { event: () => {}, state: () => {} };

export function start(seq, onEvent, onState) {
  lastSeq = seq;
  handlers = { event: onEvent, state: onState };
  connect();
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') reconnectNow();
  });
}

function reconnectNow() {
  if (socket && socket.readyState <= WebSocket.OPEN) return;
  clearTimeout(retryTimer);
  retryDelay = 500;
  connect();
}

function connect() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = `${scheme}//${location.host}/api/v1/events?since=${lastSeq}`;
  handlers.state('connecting');
  const ws = new WebSocket(url);
  let opened = false;
  socket = ws;
  ws.onopen = () => {
    opened = true;
    retryDelay = 500;
    handlers.state('live');
  };
  ws.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    // Offline for longer than the daemon keeps events: what the page shows
    // may be stale in ways no event will fix, so load it afresh.
    if (event.type === 'gap') { location.reload(); return; }
    if (typeof event.seq !== 'number' || event.seq <= lastSeq) return;
    lastSeq = event.seq;
    handlers.event(event);
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    if (!opened) {
      // Refused at the handshake: maybe the session ended (signed out
      // elsewhere, revoked); then back to the login page.
      fetch('/api/v1/session', { credentials: 'same-origin' }).then((r) => {
        if (r.status === 401) location.href = '/login';
      }).catch(() => {});
    }
    handlers.state('offline');
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 10000);
  };
}
