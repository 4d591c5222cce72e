// Switchboard web inbox: the conversation list of one inbox or all of the
// agent's inboxes, filtered by assignee, status and channel kind, newest
// activity first, paged with the API's cursor, updated live, with unread
// markers and keys: j/k move, Enter opens, r replies, a assigns to me,
// e closes.

import { get, patch } from './api.js';
import { h, replace, when, kindLabel, toast } from './dom.js';
import { state, subscribe, putConversation, channel, agentName, isUnread, millis } from './state.js';

const PAGE = 25;

export function renderList(view, inboxId, query) {
  const filters = {
    assignee: query.get('assignee') || 'all',
    status: query.get('status') || 'open',
    kind: query.get('kind') || 'all',
  };
  const inbox = state.boot.inboxes.find((i) => i.id === inboxId);
  const title = inbox ? inbox.name : 'All my inboxes';
  const kinds = [...new Set(state.boot.channels.map((c) => c.kind))].sort();
  let items = [];
  let cursor = null;
  let selected = 0;

  const select = (name, label, options) => h('label', {},
    label,
    h('select', { name, id: `filter-${name}`, onchange: (e) => go({ ...filters, [name]: e.target.value }) },
      options.map(([value, text]) => h('option', { value, selected: filters[name] === value }, text))));
  const list = h('ul', { class: 'conv-list', id: 'conversations', 'aria-label': 'Conversations' });
  const more = h('div', { class: 'more' });
  replace(view,
    h('div', { class: 'toolbar' },
      h('h1', {}, title),
      select('assignee', 'Assigned', [['me', 'To me'], ['none', 'Unassigned'], ['all', 'Anyone']]),
      select('status', 'Status', [['open', 'Open'], ['pending', 'Pending'], ['closed', 'Closed'], ['all', 'Any']]),
      select('kind', 'Channel', [['all', 'All channels'], ...kinds.map((k) => [k, kindLabel(k)])])),
    list, more);

  function go(next) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(next)) params.set(key, value);
    location.hash = `#/inbox/${encodeURIComponent(inboxId)}?${params}`;
  }

  function apiQuery() {
    const params = new URLSearchParams({ limit: String(PAGE) });
    if (inbox) params.set('inbox', inbox.id);
    if (filters.assignee !== 'all') params.set('assignee', filters.assignee);
    if (filters.status !== 'all') params.set('status', filters.status);
    if (filters.kind !== 'all') params.set('kind', filters.kind);
    return params;
  }

  function matches(c) {
    if (inbox && c.inbox !== inbox.id) return false;
    if (!inbox && !state.boot.inboxes.some((i) => i.id === c.inbox)) return false;
    if (filters.assignee === 'me' && c.assignee !== state.me.id) return false;
    if (filters.assignee === 'none' && c.assignee) return false;
    if (filters.status !== 'all' && c.status !== filters.status) return false;
    if (filters.kind !== 'all' && channel(c.channel).kind !== filters.kind) return false;
    return true;
  }

  async function load() {
    const params = apiQuery();
    if (cursor) params.set('cursor', cursor);
    try {
      const page = await get(`/api/v1/conversations?${params}`);
      for (const c of page.conversations) {
        putConversation(c, true);
        if (!items.includes(c.id)) items.push(c.id);
      }
      cursor = page.next_cursor;
      draw();
    } catch (error) {
      toast(`Cannot load conversations: ${error.message}`);
    }
  }

  function sortItems() {
    items.sort((a, b) => {
      const x = millis(state.conversations.get(a).last_message_at);
      const y = millis(state.conversations.get(b).last_message_at);
      return y - x || (a < b ? 1 : -1);
    });
  }

  function row(c, index) {
    const kind = channel(c.channel).kind;
    const unread = isUnread(c);
    const who = c.contact.name || c.contact.email || 'Unknown contact';
    return h('li', { class: [index === selected ? 'selected' : '', unread ? 'unread' : ''].join(' '), dataset: { id: c.id } },
      h('a', { href: `#/c/${c.id}`, 'aria-current': index === selected ? 'true' : null },
        unread ? h('span', { class: 'unread-dot', title: 'Unread' }, h('span', { class: 'visually-hidden' }, 'Unread')) : h('span'),
        h('span', { class: 'who' }, who),
        h('span', { class: 'meta' }, `${kindLabel(kind)} · ${c.status} · ${agentName(c.assignee)} · `, h('time', { datetime: c.last_message_at }, when(c.last_message_at))),
        h('span', {}),
        h('span', { class: 'subject' }, c.subject || '(no subject)')));
  }

  function draw() {
    sortItems();
    if (selected >= items.length) selected = Math.max(0, items.length - 1);
    replace(list, items.length
      ? items.map((id, i) => row(state.conversations.get(id), i))
      : h('li', { class: 'pad muted' }, 'No conversations here.'));
    replace(more, cursor ? h('button', { type: 'button', id: 'load-more', onclick: load }, 'Load more') : null);
  }

  const unsubscribe = subscribe((kind, record) => {
    if (kind !== 'conversation') return;
    const present = items.includes(record.id);
    if (matches(record)) {
      if (!present) items.push(record.id);
      draw();
    } else if (present) {
      items = items.filter((id) => id !== record.id);
      draw();
    }
  });

  async function act(change) {
    const id = items[selected];
    if (!id) return;
    try {
      putConversation(await patch(`/api/v1/conversations/${id}`, change));
    } catch (error) {
      toast(`Cannot change the conversation: ${error.message}`);
    }
  }

  function onKey(event) {
    if ((event.target instanceof Element && event.target.closest('input, textarea, select')) || event.ctrlKey || event.metaKey || event.altKey) return;
    const moveTo = (index) => {
      selected = Math.max(0, Math.min(items.length - 1, index));
      draw();
      const row = list.querySelector('li.selected a');
      if (row) row.focus();
    };
    if (event.key === 'j') moveTo(selected + 1);
    else if (event.key === 'k') moveTo(selected - 1);
    else if (event.key === 'Enter' && items[selected] && !(event.target instanceof Element && event.target.closest('a, button'))) location.hash = `#/c/${items[selected]}`;
    else if (event.key === 'r' && items[selected]) location.hash = `#/c/${items[selected]}?reply=1`;
    else if (event.key === 'a') act({ assignee: state.me.id });
    else if (event.key === 'e') act({ status: 'closed' });
    else return;
    event.preventDefault();
  }
  document.addEventListener('keydown', onKey);
  load();
  return () => {
    unsubscribe();
    document.removeEventListener('keydown', onKey);
  };
}
