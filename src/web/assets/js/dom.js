// Switchboard web inbox: DOM helpers. Everything customer-supplied goes in
// through textContent or attribute values, never innerHTML.

/** Builds an element: h('a', {href: '#x', class: 'y'}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A short local time: today's time, or the date. */
export function when(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  const now = new Date();
  if (date.toDateString() === now.toDateString()) {
    return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  }
  return date.toLocaleDateString([], { month: 'short', day: 'numeric' });
}

/** A full local date and time. */
export function fullTime(iso) {
  return iso ? new Date(iso).toLocaleString() : '';
}

/** Shows a short message in the live region. */
export function toast(text) {
  const box = document.getElementById('toast');
  if (!box) return;
  const p = h('p', {}, text);
  box.appendChild(p);
  setTimeout(() => p.remove(), 6000);
}

const KIND_LABELS = {
  email: 'Email', messenger: 'Messenger', whatsapp: 'WhatsApp', sms: 'SMS',
  chat: 'Chat', call: 'Call', calls: 'Call', form: 'Form', forms: 'Form', custom: 'Custom',
};

/** A label for any channel kind, known or not. */
export function kindLabel(kind) {
  if (!kind) return 'Channel';
  return KIND_LABELS[kind] || kind.charAt(0).toUpperCase() + kind.slice(1);
}
