// Switchboard web inbox: one conversation: its header (status, assignee),
// the whole timeline, the composer, the contact panel and the assignment
// history; updated live. Keys: r reply, a assign to me, e close, u back.

import { get, patch } from './api.js';
import { h, replace, toast, fullTime, kindLabel } from './dom.js';
import { state, subscribe, putConversation, putMessage, messagesOf, channel, agentName, markSeen } from './state.js';
import { messageItem } from './timeline.js';
import { renderComposer } from './composer.js';
import { renderContact } from './contact.js';

export function renderConversation(view, id) {
  const head = h('div', { class: 'conv-head' });
  const timeline = h('ol', { class: 'timeline', id: 'timeline', 'aria-label': 'Messages' });
  const composerBox = h('div');
  const panel = h('aside', { class: 'panel', 'aria-label': 'Contact and history' });
  const history = h('div');
  replace(view, h('div', { class: 'conversation' },
    h('section', { 'aria-label': 'Conversation' }, head, timeline, composerBox),
    panel));
  let composer = null;
  let contactShown = null;

  function conversation() { return state.conversations.get(id); }

  function drawHead() {
    const c = conversation();
    if (!c) return;
    const seats = state.boot.agents.filter((a) => a.seat);
    replace(head,
      h('a', { href: state.lastList || '#/inbox/all', class: 'back' }, '← Inbox'),
      h('h1', {}, c.subject || `${kindLabel(channel(c.channel).kind)} conversation`),
      h('span', { class: 'field' },
        h('label', { for: 'assignee' }, 'Assignee'),
        h('select', { id: 'assignee', onchange: (e) => change({ assignee: e.target.value || null }) },
          h('option', { value: '' }, 'Unassigned'),
          seats.map((a) => h('option', { value: a.id, selected: c.assignee === a.id }, a.name)))),
      h('span', { class: 'field' },
        h('label', { for: 'status' }, 'Status'),
        h('select', { id: 'status', onchange: (e) => change({ status: e.target.value }) },
          ['open', 'pending', 'closed'].map((s) => h('option', { value: s, selected: c.status === s }, s)))),
      c.status === 'closed'
        ? h('button', { type: 'button', id: 'reopen', onclick: () => change({ status: 'open' }) }, 'Reopen')
        : h('button', { type: 'button', id: 'close', onclick: () => change({ status: 'closed' }) }, 'Close'));
    replace(history,
      h('h2', {}, 'Assignment history'),
      c.assignment_history.length
        ? h('ul', { class: 'history', id: 'assignment-history' }, c.assignment_history.map((a) =>
          h('li', {}, `${a.agent ? agentName(a.agent) : 'Unassigned'} · by ${a.by.replace(/^agent:/, '')} · ${fullTime(a.at)}`)))
        : h('p', { class: 'muted' }, 'Never assigned.'),
      c.ticket ? h('p', {}, 'Ticket: ', h('a', { href: '#/tickets/' }, c.ticket)) : null,
      c.ticket_note ? h('p', { class: 'muted' }, c.ticket_note) : null,
      c.reply_problem ? h('p', { class: 'muted', id: 'reply-problem' }, c.reply_problem) : null,
      (c.related || []).length
        ? h('div', { id: 'related' }, h('h2', {}, 'Related conversations'),
          h('ul', {}, c.related.map((r) => h('li', {}, h('a', { href: `#/c/${r}` }, r)))))
        : null);
    if (contactShown !== c.contact.id) {
      contactShown = c.contact.id;
      renderContact(panel, c.contact.id, id, history);
    }
  }

  function drawTimeline() {
    const messages = messagesOf(id).concat(composer ? composer.pending() : []);
    replace(timeline, messages.map((m) => messageItem(m, composer && composer.retry)));
  }

  async function change(body) {
    try {
      putConversation(await patch(`/api/v1/conversations/${id}`, body));
    } catch (error) {
      toast(`Cannot change the conversation: ${error.message}`);
      drawHead();
    }
  }

  async function load() {
    try {
      const [c, list] = await Promise.all([get(`/api/v1/conversations/${id}`), get(`/api/v1/conversations/${id}/messages`)]);
      putConversation(c, true);
      for (const m of list.messages) putMessage(m);
      markSeen(c);
      drawHead();
      composer = renderComposer(composerBox, c, drawTimeline);
      drawTimeline();
      if (/[?&]reply=1/.test(location.hash)) composer.focus();
    } catch (error) {
      replace(view, h('p', { class: 'pad', role: 'alert' }, error.status === 404 ? 'No such conversation.' : `Cannot load: ${error.message}`));
    }
  }

  const unsubscribe = subscribe((kind, record) => {
    if (kind === 'conversation' && record.id === id) {
      markSeen(record);
      drawHead();
      if (composer) composer.update(record);
    } else if (kind === 'message' && record.conversation === id) {
      if (composer) composer.settle(record);
      drawTimeline();
    }
  });

  function onKey(event) {
    if ((event.target instanceof Element && event.target.closest('input, textarea, select')) || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === 'r' && composer) composer.focus();
    else if (event.key === 'a') change({ assignee: state.me.id });
    else if (event.key === 'e') change({ status: 'closed' });
    else if (event.key === 'u' || event.key === 'Escape') location.hash = state.lastList || '#/inbox/all';
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
