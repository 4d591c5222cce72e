// Switchboard web inbox: the header: the agent's availability toggle, the
// live connection state, the open unassigned count, and sign-out.

import { get, put, post } from './api.js';
import { h, replace, toast } from './dom.js';
import { state } from './state.js';

let unassignedTimer = null;

export function renderHeader() {
  const top = document.getElementById('top');
  const availability = h('button', { id: 'availability', type: 'button', 'aria-pressed': 'false', onclick: toggleAvailability }, 'Available');
  replace(top,
    h('a', { class: 'brand', href: '#/inbox/all' }, 'Switchboard'),
    h('a', { id: 'unassigned', href: '#/inbox/all?assignee=none&status=open', 'aria-live': 'polite' }, 'Unassigned: …'),
    h('span', { class: 'spacer' }),
    h('span', { id: 'connection', class: 'pill', role: 'status' }, 'Connecting…'),
    availability,
    h('span', { class: 'me' }, state.me.name),
    h('button', { type: 'button', id: 'sign-out', onclick: signOut }, 'Sign out'));
  loadAvailability();
  refreshUnassigned();
}

export function setConnection(connection) {
  const pill = document.getElementById('connection');
  if (!pill) return;
  const labels = { live: 'Live', connecting: 'Connecting…', offline: 'Offline, reconnecting…' };
  pill.textContent = labels[connection] || connection;
  pill.className = 'pill ' + (connection === 'live' ? 'conn-live' : 'conn-down');
  pill.dataset.state = connection;
}

async function loadAvailability() {
  try {
    const agents = await get('/api/v1/agents');
    const me = agents.find((a) => a.id === state.me.id);
    showAvailability(Boolean(me && me.available));
  } catch (error) {
    toast(`Cannot read availability: ${error.message}`);
  }
}

function showAvailability(available) {
  const button = document.getElementById('availability');
  if (!button) return;
  // A toggle keeps its label; the pressed state says whether it is on.
  button.setAttribute('aria-pressed', String(available));
  button.title = available ? 'You are available for new conversations' : 'You are away';
}

async function toggleAvailability() {
  const button = document.getElementById('availability');
  const available = button.getAttribute('aria-pressed') !== 'true';
  try {
    const answer = await put('/api/v1/agents/me/availability', { available });
    showAvailability(answer.available);
  } catch (error) {
    toast(`Cannot change availability: ${error.message}`);
  }
}

/** Recounts open unassigned conversations (debounced). */
export function refreshUnassigned() {
  clearTimeout(unassignedTimer);
  unassignedTimer = setTimeout(async () => {
    try {
      const page = await get('/api/v1/conversations?assignee=none&status=open&limit=100');
      const count = page.conversations.length + (page.next_cursor ? '+' : '');
      const link = document.getElementById('unassigned');
      if (link) link.textContent = `Unassigned: ${count}`;
    } catch (error) {
      if (error.status !== 401) toast(`Cannot count unassigned: ${error.message}`);
    }
  }, 150);
}

async function signOut() {
  try { await post('/logout'); } catch { /* the redirect answer is not JSON */ }
  location.href = '/login';
}
