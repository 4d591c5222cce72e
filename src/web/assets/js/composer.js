// Switchboard web inbox: the composer: a reply or a private note. For email
// it previews the From name and the signature; for Messenger and WhatsApp
// it shows the reply window and when it ends, offers only the template
// picker when only templates may be sent, and disables sending with the
// reason when nothing may be sent. Sends are optimistic: the message shows
// at once, then its delivery status follows live; a failure offers Retry.

import { post, ApiError } from './api.js';
import { h, replace, fullTime, toast } from './dom.js';
import { state, channel, putMessage } from './state.js';

let pendingCounter = 0;

function windowInfo(conversation) {
  const w = conversation.reply_window;
  if (!w) return { text: true, template: false, note: null };
  const until = w.ends_at ? fullTime(w.ends_at) : '';
  switch (w.kind) {
    case 'standard':
      return { text: true, template: false, note: `Reply window open until ${until}.` };
    case 'human_agent':
      return { text: true, template: false, note: `Outside 24 hours: replies are sent with the human agent tag, until ${until}.` };
    case 'template_only':
      return { text: false, template: true, note: `The 24-hour window ended ${until}: only approved templates can be sent.`,
        reason: 'Only a template can be sent now: pick one below.' };
    default:
      return { text: false, template: false, note: `The reply window ended ${until}.`,
        reason: 'Nothing can be sent until the person writes again.' };
  }
}

export function renderComposer(box, initial, redraw) {
  let conversation = initial;
  let mode = 'reply';
  const pending = new Map();
  const kind = channel(conversation.channel).kind;
  const emailInfo = channel(conversation.channel).email;

  const textarea = h('textarea', { id: 'composer-text', name: 'text' });
  const label = h('label', { for: 'composer-text' }, 'Reply');
  const sendButton = h('button', { type: 'submit', class: 'primary', id: 'send' }, 'Send');
  const reason = h('span', { class: 'reason', id: 'send-reason', role: 'status' });
  const windowNote = h('p', { class: 'preview', id: 'reply-window' });
  const preview = h('div', { class: 'preview', id: 'email-preview' });
  const templateBox = h('div', { id: 'template-picker' });
  const templateName = h('input', { id: 'template-name', list: 'known-templates', autocomplete: 'off' });
  const templateLanguage = h('input', { id: 'template-language', value: 'en_US' });
  const templateParams = h('input', { id: 'template-params', placeholder: 'comma-separated' });
  const radio = (value, text) => h('label', {}, h('input', { type: 'radio', name: 'mode', value, checked: value === mode,
    onchange: () => { mode = value; draw(); } }), ` ${text}`);
  const form = h('form', { class: 'composer', id: 'composer', 'aria-label': 'Composer', onsubmit: (e) => { e.preventDefault(); send(); } },
    h('fieldset', {}, h('legend', { class: 'visually-hidden' }, 'Write'), radio('reply', 'Reply'), radio('note', 'Private note')),
    windowNote, preview, templateBox, label, textarea,
    h('div', { class: 'row' }, sendButton, reason, h('span', { class: 'muted' }, 'Ctrl+Enter sends')));
  textarea.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
  });
  replace(box, form);

  // Templates sent before (in any conversation this page has loaded).
  function knownTemplates() {
    const names = new Map();
    for (const messages of state.messages.values()) {
      for (const m of messages.values()) {
        if (m.template) names.set(m.template.name, m.template.language);
      }
    }
    return names;
  }

  function draw() {
    const info = windowInfo(conversation);
    const note = mode === 'note';
    form.classList.toggle('note', note);
    label.textContent = note ? 'Private note (only agents see it)' : 'Reply';
    sendButton.textContent = note ? 'Add note' : 'Send';
    windowNote.textContent = note ? '' : (info.note || '');
    if (!note && emailInfo) {
      replace(preview, `From: ${emailInfo.from_name} <${emailInfo.from_address}>`,
        emailInfo.signature ? h('pre', { 'aria-label': 'Signature' }, emailInfo.signature) : null);
    } else {
      replace(preview);
    }
    const templates = !note && info.template;
    if (templates) {
      const known = knownTemplates();
      replace(templateBox, h('div', { class: 'template-form' },
        h('label', { for: 'template-name' }, 'Template'), templateName,
        h('datalist', { id: 'known-templates' }, [...known.keys()].map((n) => h('option', { value: n }))),
        h('label', { for: 'template-language' }, 'Language'), templateLanguage,
        h('label', { for: 'template-params' }, 'Parameters'), templateParams));
    } else {
      replace(templateBox);
    }
    const textAllowed = note || info.text;
    textarea.disabled = !textAllowed;
    textarea.hidden = !textAllowed;
    label.hidden = !textAllowed;
    const blocked = channel(conversation.channel).cannot_send;
    const canSend = note || ((info.text || info.template) && !blocked);
    sendButton.disabled = !canSend;
    reason.textContent = note ? '' : (blocked || info.reason || '');
  }

  function body() {
    if (mode === 'note') return { text: textarea.value, private: true };
    const info = windowInfo(conversation);
    if (info.template) {
      const params = templateParams.value.split(',').map((p) => p.trim()).filter(Boolean);
      return { template: { name: templateName.value.trim(), language: templateLanguage.value.trim(), params } };
    }
    return { text: textarea.value };
  }

  async function submit(item) {
    try {
      const message = await post(`/api/v1/conversations/${conversation.id}/messages`, item.body);
      pending.delete(item.id);
      putMessage(message);
    } catch (error) {
      item.error = error instanceof ApiError ? error.message : 'network error';
      redraw();
    }
  }

  function send() {
    const payload = body();
    if (!payload.template && !payload.text.trim()) {
      toast('Write something first.');
      return;
    }
    if (payload.template && !payload.template.name) {
      toast('Pick a template first.');
      return;
    }
    pendingCounter += 1;
    const item = {
      id: `pending-${pendingCounter}`, conversation: conversation.id, direction: 'outbound',
      channel: conversation.channel, from: { name: state.me.name }, to: [], private: Boolean(payload.private),
      text: payload.text || `[template ${payload.template && payload.template.name}]`, html: null, attachments: [],
      author: { kind: 'agent', id: state.me.id }, created_at: new Date().toISOString(), pending: true, body: payload,
    };
    pending.set(item.id, item);
    textarea.value = '';
    redraw();
    submit(item);
  }

  function retry(message) {
    if (message.pending) {
      message.error = null;
      redraw();
      submit(message);
      return;
    }
    const again = message.template
      ? { template: { name: message.template.name, language: message.template.language, params: message.template.params } }
      : { text: message.text || '' };
    pendingCounter += 1;
    const item = { ...message, id: `pending-${pendingCounter}`, status: null, pending: true, body: again, created_at: new Date().toISOString() };
    pending.set(item.id, item);
    redraw();
    submit(item);
  }

  draw();
  return {
    focus: () => (textarea.disabled ? templateName : textarea).focus(),
    pending: () => [...pending.values()],
    retry,
    // The live event of a message this page sent may come before the API's
    // answer: the optimistic copy goes as soon as the real one is there.
    settle: (record) => {
      if (!record.author || record.author.id !== state.me.id) return;
      for (const item of pending.values()) {
        const same = item.body.template
          ? record.template && record.template.name === item.body.template.name
          : record.text === item.body.text || (record.text || '').startsWith(item.body.text);
        if (!item.error && same && Boolean(item.body.private) === record.private) {
          pending.delete(item.id);
          return;
        }
      }
    },
    update: (next) => { conversation = next; draw(); },
  };
}
