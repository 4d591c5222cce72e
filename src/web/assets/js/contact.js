// Switchboard web inbox: the contact panel: name, email, phone, owner
// (editable), identities on every channel, consent, other conversations,
// and merging a duplicate contact into this one.

import { get, patch, post } from './api.js';
import { h, replace, toast, fullTime, kindLabel, when } from './dom.js';
import { state, channel } from './state.js';

export function renderContact(panel, contactId, conversationId, history) {
  replace(panel, h('h2', {}, 'Contact'), h('p', { class: 'muted' }, 'Loading…'), history);
  load();

  async function load() {
    try {
      draw(await get(`/api/v1/contacts/${contactId}/details`));
    } catch (error) {
      replace(panel, h('h2', {}, 'Contact'), h('p', { role: 'alert' }, `Cannot load the contact: ${error.message}`), history);
    }
  }

  function draw(details) {
    const c = details.contact;
    const owner = h('select', { id: 'contact-owner', onchange: async (e) => {
      try {
        await patch(`/api/v1/contacts/${c.id}`, { owner: e.target.value || null });
        toast('Owner changed');
      } catch (error) {
        toast(`Cannot change the owner: ${error.message}`);
      }
    } }, h('option', { value: '' }, 'No owner'),
    state.boot.agents.map((a) => h('option', { value: a.id, selected: c.owner === a.id }, a.name)));
    const others = details.conversations.filter((o) => o.id !== conversationId);
    replace(panel,
      h('h2', {}, 'Contact'),
      h('dl', { id: 'contact-details' },
        h('dt', {}, 'Name'), h('dd', {}, c.name || '—'),
        h('dt', {}, 'Email'), h('dd', {}, c.email || '—'),
        h('dt', {}, 'Phone'), h('dd', {}, c.phone || '—'),
        h('dt', {}, h('label', { for: 'contact-owner' }, 'Owner')), h('dd', {}, owner)),
      h('h2', {}, 'Identities'),
      details.identities.length
        ? h('ul', { id: 'identities' }, details.identities.map((i) => h('li', {}, `${kindLabel(i.kind)}: ${i.handle}`)))
        : h('p', { class: 'muted' }, 'None recorded.'),
      h('h2', {}, 'Consent'),
      c.consent ? h('p', {}, `${c.consent.mode} on ${c.consent.channel}, ${fullTime(c.consent.at)}: “${c.consent.text}”`) : h('p', { class: 'muted' }, 'No consent record.'),
      c.opted_out ? h('p', { class: 'reason' }, `Opted out of SMS with “${c.opted_out.keyword}” ${fullTime(c.opted_out.at)}`) : null,
      h('h2', {}, 'Other conversations'),
      others.length
        ? h('ul', { id: 'other-conversations' }, others.map((o) => h('li', {},
          h('a', { href: `#/c/${o.id}` }, o.subject || `${kindLabel(channel(o.channel).kind)} conversation`),
          ` · ${o.status} · ${when(o.last_message_at)}`)))
        : h('p', { class: 'muted' }, 'None.'),
      mergeBox(c),
      history);
  }

  function mergeBox(contact) {
    const input = h('input', { id: 'merge-search', type: 'search' });
    const results = h('ul', { id: 'merge-results' });
    const search = async (e) => {
      e.preventDefault();
      const q = input.value.trim();
      if (!q) return;
      try {
        const found = await get(`/api/v1/contacts?q=${encodeURIComponent(q)}`);
        const others = found.contacts.filter((o) => o.id !== contact.id);
        replace(results, others.length ? others.map((o) => h('li', {},
          `${o.name || o.email || o.phone || o.id} `,
          h('button', { type: 'button', onclick: () => merge(o) }, 'Merge into this contact'))) : h('li', { class: 'muted' }, 'No other contact found.'));
      } catch (error) {
        toast(`Cannot search: ${error.message}`);
      }
    };
    const merge = async (other) => {
      try {
        await post(`/api/v1/contacts/${contact.id}/merge`, { other: other.id });
        toast('Contacts merged');
        load();
      } catch (error) {
        toast(`Cannot merge: ${error.message}`);
      }
    };
    return h('form', { class: 'stack', onsubmit: search, 'aria-label': 'Merge a duplicate contact' },
      h('h2', {}, 'Merge a duplicate'),
      h('label', { for: 'merge-search' }, 'Find a contact by name, email or phone'),
      input, h('button', { type: 'submit' }, 'Search'), results);
  }
}
