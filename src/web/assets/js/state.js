// Switchboard web inbox: what the page knows. Conversations and messages
// are kept by id, so a record that arrives twice (the REST answer and the
// live event, or an optimistic send and its event) is stored once.

export const state = {
  boot: null,
  me: null,
  conversations: new Map(),
  messages: new Map(), // conversation id -> Map(message id -> message)
  lastList: null, // the list view the agent came from (its URL hash)
};

const listeners = new Set();

/** Calls `fn(kind, record)` on every change; returns an unsubscribe. */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(kind, record) {
  for (const fn of [...listeners]) {
    try { fn(kind, record); } catch (error) { console.error(error); }
  }
}

export function putConversation(conversation, quiet = false) {
  state.conversations.set(conversation.id, conversation);
  if (!quiet) notify('conversation', conversation);
}

const RANK = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/** Whether status `next` may replace `current` (statuses move forward). */
function advances(current, next) {
  if (!current) return true;
  if (next.state === 'failed') return current.state === 'queued' || current.state === 'sent' || current.state === 'failed';
  if (current.state === 'failed') return false;
  return RANK[next.state] >= RANK[current.state];
}

export function putMessage(message) {
  let messages = state.messages.get(message.conversation);
  if (!messages) {
    messages = new Map();
    state.messages.set(message.conversation, messages);
  }
  const known = messages.get(message.id);
  if (known && known.status && message.status && !advances(known.status, message.status)) {
    message = { ...message, status: known.status };
  }
  messages.set(message.id, message);
  notify('message', message);
}

export function putStatus(messageId, status) {
  for (const messages of state.messages.values()) {
    const message = messages.get(messageId);
    if (message) {
      if (!advances(message.status, status)) return;
      const updated = { ...message, status };
      messages.set(messageId, updated);
      notify('message', updated);
      return;
    }
  }
}

export function messagesOf(conversationId) {
  const messages = state.messages.get(conversationId);
  if (!messages) return [];
  return [...messages.values()].sort((a, b) => millis(a.created_at) - millis(b.created_at) || (a.id < b.id ? -1 : 1));
}

/** Milliseconds of an RFC 3339 time. The API's times drop trailing zeros
 * of the fraction (`…:05Z`, `…:05.1Z`), so they do not sort as text. */
export function millis(iso) {
  const value = Date.parse(iso);
  return Number.isNaN(value) ? 0 : value;
}

export function channel(id) {
  return (state.boot && state.boot.channels.find((c) => c.id === id)) || { id, kind: 'unknown' };
}

export function agentName(id) {
  if (!id) return 'Unassigned';
  const agent = state.boot && state.boot.agents.find((a) => a.id === id);
  return agent ? agent.name : id;
}

// Unread markers: when this browser last opened each conversation.
const SEEN_KEY = 'switchboard.seen';

function seenMap() {
  try { return JSON.parse(localStorage.getItem(SEEN_KEY) || '{}'); } catch { return {}; }
}

export function markSeen(conversation) {
  const seen = seenMap();
  seen[conversation.id] = millis(conversation.last_message_at);
  localStorage.setItem(SEEN_KEY, JSON.stringify(seen));
}

export function isUnread(conversation) {
  const seen = seenMap()[conversation.id];
  return typeof seen !== 'number' || seen < millis(conversation.last_message_at);
}
