// Switchboard web inbox: one message of a conversation's timeline, for any
// channel. Email HTML goes into a sandboxed frame (no scripts, no same
// origin) whose own policy blocks remote images until the agent asks;
// calls and forms show their details; message kinds this page does not
// know are shown as text. Private notes are set apart.

import { h, fullTime, kindLabel } from './dom.js';
import { channel, agentName } from './state.js';

// Keys every message has; anything else an object carries (call details,
// form fields from newer channels) is shown as a details list.
const KNOWN = new Set(['id', 'conversation', 'direction', 'channel', 'from', 'forwarded_by', 'to',
  'subject', 'text', 'html', 'attachments', 'flags', 'thread_reason', 'external_id', 'sent_at',
  'created_at', 'private', 'author', 'status', 'template', 'pending', 'error', 'retry']);

const REASONS = {
  new: 'Started this conversation', in_reply_to: 'Threaded by In-Reply-To',
  references: 'Threaded by References', reply_token: 'Sent to the conversation’s reply address',
  continued: 'Continues the sender’s open conversation', thread: 'Threaded by the channel’s thread id',
  related: 'Answered a conversation the sender does not belong to: started this one, linked as related',
};
const JOINED = { contact: ' (the contact)', recipient: ' (a recipient of this conversation)', agent: ' (an agent)' };

/** The frame's own policy: no scripts, no fetches; images only when shown. */
function frameDocument(html, showImages) {
  const images = showImages ? 'data: cid: https: http:' : 'data: cid:';
  const policy = `default-src 'none'; style-src 'unsafe-inline'; img-src ${images}; font-src data:`;
  return `<!doctype html><meta http-equiv="Content-Security-Policy" content="${policy}"><base target="_blank">` + html;
}

function emailFrame(message) {
  const frame = h('iframe', {
    sandbox: 'allow-popups allow-popups-to-escape-sandbox',
    referrerpolicy: 'no-referrer',
    title: `Email from ${message.from.name || message.from.address || 'the sender'}`,
    class: 'email-html',
  });
  frame.srcdoc = frameDocument(message.html, false);
  const show = h('button', { type: 'button', class: 'show-images', onclick: () => {
    frame.srcdoc = frameDocument(message.html, true);
    show.remove();
  } }, 'Show images');
  return [h('div', { class: 'row' }, show, h('span', { class: 'muted' }, ' Remote images are blocked.')), frame];
}

function details(message) {
  const lists = [];
  for (const [key, value] of Object.entries(message)) {
    if (KNOWN.has(key) || value === null || typeof value !== 'object') continue;
    lists.push(key === 'call' ? callItem(value) : detailList(key, value));
  }
  return lists;
}

function seconds(total) {
  if (total === null || total === undefined) return null;
  const m = Math.floor(total / 60);
  return m ? `${m} min ${total % 60} s` : `${total} s`;
}

/** A phone call: who called whom, how it ended, its recording and transcript. */
function callItem(call) {
  const rows = [];
  const row = (label, value) => {
    if (value !== null && value !== undefined && value !== '') rows.push(h('dt', {}, label), h('dd', {}, String(value)));
  };
  row('Direction', call.direction);
  row('Status', call.status);
  row('From', call.from);
  row('To', call.to);
  row('Duration', seconds(call.duration_secs));
  row('Answered by', call.answered_by);
  row('Missed', call.missed_reason);
  row('Started', call.started_at ? fullTime(call.started_at) : null);
  const recording = call.recording && typeof call.recording.url === 'string' && call.recording.url.startsWith('/') ? call.recording.url : null;
  return h('div', { class: 'details details-call' },
    h('strong', {}, 'Call'),
    rows.length ? h('dl', {}, rows) : null,
    recording ? h('audio', { controls: true, preload: 'none', src: recording, 'aria-label': 'Call recording' }) : null,
    call.transcript ? h('div', { class: 'transcript' }, h('strong', {}, 'Transcript'), h('p', { class: 'text' }, call.transcript)) : null);
}

function detailList(key, value) {
  const rows = [];
  const fields = Array.isArray(value) ? value : Array.isArray(value.fields) ? value.fields : null;
  const recording = value.recording_url || value.recording;
  if (fields) {
    for (const field of fields) {
      const label = field.label || field.name || field.key || '';
      const text = typeof field === 'object' ? (field.value ?? '') : field;
      rows.push(h('dt', {}, String(label)), h('dd', {}, typeof text === 'object' ? JSON.stringify(text) : String(text)));
    }
  }
  for (const [name, item] of Object.entries(Array.isArray(value) ? {} : value)) {
    if (name === 'fields' || item === null || item === undefined) continue;
    if ((name === 'recording_url' || name === 'recording') && typeof item === 'string') continue;
    const shown = typeof item === 'object' ? JSON.stringify(item) : String(item);
    rows.push(h('dt', {}, name.replace(/_/g, ' ')), h('dd', {}, shown));
  }
  return h('div', { class: `details details-${key}` },
    h('strong', {}, key.charAt(0).toUpperCase() + key.slice(1).replace(/_/g, ' ')),
    typeof recording === 'string' && /^(https?:|\/)/.test(recording)
      ? h('audio', { controls: true, preload: 'none', src: recording, 'aria-label': 'Call recording' }) : null,
    rows.length ? h('dl', {}, rows) : null);
}

function author(message) {
  if (message.private || message.direction === 'outbound') {
    if (message.author && message.author.kind === 'agent') return agentName(message.author.id);
    if (message.author && message.author.name) return `Automation: ${message.author.name}`;
  }
  return message.from.name || message.from.address || 'Unknown sender';
}

function statusBadge(message, onRetry) {
  if (message.private || message.direction !== 'outbound') return null;
  const status = message.pending ? { state: message.error ? 'failed' : 'sending', reason: message.error } : message.status;
  if (!status) return null;
  return [
    h('span', { class: `state state-${status.state}`, dataset: { state: status.state } }, status.state),
    status.state === 'failed' && status.reason ? h('span', { class: 'reason' }, status.reason) : null,
    status.state === 'failed' && onRetry ? h('button', { type: 'button', class: 'retry', onclick: () => onRetry(message) }, 'Retry') : null,
  ];
}

export function messageItem(message, onRetry) {
  const kind = channel(message.channel).kind;
  const note = message.private;
  const classes = ['msg', note ? 'note' : message.direction];
  const attachments = message.attachments || [];
  return h('li', { class: classes.join(' '), dataset: { id: message.id, direction: message.direction, private: String(note) } },
    h('div', { class: 'head', title: (REASONS[message.thread_reason] || message.thread_reason || '') + (JOINED[message.joined_as] || '') },
      note ? h('strong', { class: 'note-label' }, 'Private note') : null,
      h('strong', {}, author(message)),
      h('span', {}, kindLabel(kind)),
      h('time', { datetime: message.created_at }, fullTime(message.created_at)),
      statusBadge(message, onRetry)),
    message.template ? h('p', { class: 'muted' }, `Template ${message.template.name} (${message.template.language})`) : null,
    message.html ? emailFrame(message) : h('pre', { class: 'text' }, message.text || ''),
    details(message),
    attachments.length ? h('ul', { class: 'attachments', 'aria-label': 'Attachments' },
      attachments.map((a) => h('li', {}, h('a', { href: a.url, download: a.name || 'attachment' }, a.name || 'attachment'),
        ` (${a.content_type}, ${Math.ceil(a.size / 1024)} KB)`,
        a.fetch_failed ? h('span', { class: 'muted' }, ` not fetched: ${a.fetch_failed}`) : null))) : null);
}
