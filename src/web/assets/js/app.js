// Switchboard web inbox: start-up and routing. Loads who is signed in and
// the workspace, follows the live events socket, and shows the view the
// URL's hash names (so deep links and the back button work):
//   #/inbox/<inbox id | all>?assignee=&status=&kind=   the conversation list
//   #/c/<conversation id>                              one conversation
//   #/tickets/<pipeline id>                            a ticket board

import { get, setCsrf } from './api.js';
import { h, replace } from './dom.js';
import * as live from './live.js';
import { state, putConversation, putMessage, putStatus } from './state.js';
import { renderHeader, setConnection, refreshUnassigned } from './header.js';
import { renderList } from './list.js';
import { renderConversation } from './conversation.js';
import { renderBoard } from './tickets.js';

let cleanup = null;

async function boot() {
  const [me, boot] = await Promise.all([get('/api/v1/session'), get('/api/v1/web/bootstrap')]);
  setCsrf(me.csrf_token);
  state.me = me;
  state.boot = boot;
  renderHeader();
  live.start(boot.seq, onEvent, setConnection);
  window.addEventListener('hashchange', route);
  route();
}

function onEvent(event) {
  const payload = event.payload;
  if (event.kind === 'conversation.created' || event.kind === 'conversation.updated') {
    putConversation(payload);
    refreshUnassigned();
  } else if (event.kind === 'message.created') {
    putMessage(payload);
  } else if (event.kind === 'message.status') {
    putStatus(payload.message, payload.status);
  }
}

/** The current route: its name, parameters and query. */
export function parseRoute() {
  const hash = location.hash.replace(/^#/, '') || '/inbox/all';
  const [path, query = ''] = hash.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { name: parts[0] || 'inbox', id: parts[1] || 'all', query: new URLSearchParams(query) };
}

function renderSidebar(route) {
  const nav = document.getElementById('sidebar');
  const link = (href, label, current) => h('li', {}, h('a', { href, 'aria-current': current ? 'page' : null }, label));
  const inboxCurrent = (id) => route.name === 'inbox' && route.id === id;
  replace(nav,
    h('h2', { id: 'nav-inboxes' }, 'Inboxes'),
    h('ul', { 'aria-labelledby': 'nav-inboxes' },
      link('#/inbox/all', 'All my inboxes', inboxCurrent('all')),
      state.boot.inboxes.map((inbox) => link(`#/inbox/${encodeURIComponent(inbox.id)}`, inbox.name, inboxCurrent(inbox.id)))),
    state.boot.pipelines.length ? h('h2', { id: 'nav-boards' }, 'Tickets') : null,
    state.boot.pipelines.length ? h('ul', { 'aria-labelledby': 'nav-boards' },
      state.boot.pipelines.map((p) => link(`#/tickets/${encodeURIComponent(p.id)}`, p.name, route.name === 'tickets' && route.id === p.id))) : null);
}

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const current = parseRoute();
  renderSidebar(current);
  const view = document.getElementById('view');
  replace(view);
  if (current.name === 'c') cleanup = renderConversation(view, current.id);
  else if (current.name === 'tickets') cleanup = renderBoard(view, current.id);
  else {
    state.lastList = location.hash || '#/inbox/all';
    cleanup = renderList(view, current.id, current.query);
  }
}

boot().catch((error) => {
  if (error && error.status === 401) return;
  replace(document.getElementById('view'), h('p', { class: 'pad', role: 'alert' }, `Cannot load the inbox: ${error.message}`));
});
