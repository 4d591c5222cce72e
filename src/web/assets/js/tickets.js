// Switchboard web inbox: a ticket board for one pipeline, its stages as
// columns. A card moves by drag and drop or with its Stage menu (keyboard);
// either way the stage changes through the API. Tickets have no events of
// their own: the board reloads when a conversation is created or changes
// (a new conversation may open a ticket).

import { get, patch } from './api.js';
import { h, replace, toast } from './dom.js';
import { state, agentName, subscribe } from './state.js';

export function renderBoard(view, pipelineId) {
  const pipeline = state.boot.pipelines.find((p) => p.id === pipelineId) || state.boot.pipelines[0];
  if (!pipeline) {
    replace(view, h('p', { class: 'pad' }, 'No ticket pipelines are configured.'));
    return () => {};
  }
  let tickets = [];
  const board = h('div', { class: 'board', id: 'board' });
  replace(view, h('div', { class: 'toolbar' }, h('h1', {}, `Tickets: ${pipeline.name}`)), board);

  async function load() {
    try {
      const list = await get(`/api/v1/tickets?pipeline=${encodeURIComponent(pipeline.id)}&limit=200`);
      tickets = list.tickets;
      draw();
      await loadSubjects();
    } catch (error) {
      toast(`Cannot load tickets: ${error.message}`);
    }
  }

  async function loadSubjects() {
    const missing = tickets.filter((t) => !state.conversations.has(t.conversation));
    await Promise.all(missing.slice(0, 50).map(async (t) => {
      try { state.conversations.set(t.conversation, await get(`/api/v1/conversations/${t.conversation}`)); } catch { /* shown by id */ }
    }));
    if (missing.length) draw();
  }

  async function move(ticket, stage) {
    if (ticket.stage === stage) return;
    try {
      const updated = await patch(`/api/v1/tickets/${ticket.id}`, { stage });
      tickets = tickets.map((t) => (t.id === updated.id ? updated : t));
      draw();
      toast(`Moved to ${stage}`);
    } catch (error) {
      toast(`Cannot move the ticket: ${error.message}`);
      draw();
    }
  }

  function card(ticket) {
    const c = state.conversations.get(ticket.conversation);
    const title = (c && (c.subject || c.contact.name || c.contact.email)) || `Ticket ${ticket.id.slice(-6)}`;
    const selectId = `stage-${ticket.id}`;
    return h('li', { class: 'card', draggable: 'true', dataset: { id: ticket.id },
      ondragstart: (e) => e.dataTransfer.setData('text/plain', ticket.id) },
    h('a', { href: `#/c/${ticket.conversation}` }, title),
    h('div', { class: 'muted' }, `${ticket.priority} · ${agentName(ticket.owner)}`),
    h('label', { for: selectId }, 'Stage',
      h('select', { id: selectId, class: 'stage-select', onchange: (e) => move(ticket, e.target.value) },
        pipeline.stages.map((s) => h('option', { value: s, selected: s === ticket.stage }, s)))));
  }

  function draw() {
    replace(board, pipeline.stages.map((stage) => {
      const column = h('section', { class: 'column', dataset: { stage }, 'aria-label': `Stage ${stage}`,
        ondragover: (e) => { e.preventDefault(); column.classList.add('drop'); },
        ondragleave: () => column.classList.remove('drop'),
        ondrop: (e) => {
          e.preventDefault();
          column.classList.remove('drop');
          const ticket = tickets.find((t) => t.id === e.dataTransfer.getData('text/plain'));
          if (ticket) move(ticket, stage);
        } },
      h('h2', {}, `${stage} (${tickets.filter((t) => t.stage === stage).length})`),
      h('ul', { class: 'cards' }, tickets.filter((t) => t.stage === stage).map(card)));
      return column;
    }));
  }

  let reload = null;
  const unsubscribe = subscribe((kind) => {
    if (kind !== 'conversation') return;
    clearTimeout(reload);
    reload = setTimeout(load, 300);
  });
  load();
  return () => {
    clearTimeout(reload);
    unsubscribe();
  };
}
