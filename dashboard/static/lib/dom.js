// Building the page: `$` (an element by id), `el` (an element with attributes, translated
// text, handlers and children), `label` (a server's value in the user's language) and
// `notify` (a short message at the bottom of the page).

import { hasString, t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

// el("a", {href: "/", i18n: "nav_alerts", onclick: fn}, child, ...): attributes, a
// translated text, event handlers, style properties ({style: {left: "10%"}}, set through the
// CSSOM: the CSP forbids style attributes); children are nodes or strings.
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([key, value]) => {
    if (value === undefined || value === null || value === false) return;
    if (key === "i18n") { node.dataset.i18n = value; node.textContent = t(value); }
    else if (key === "i18nTitle") { node.dataset.i18nTitle = value; node.title = t(value); }
    else if (key === "i18nPlaceholder") { node.dataset.i18nPlaceholder = value; node.placeholder = t(value); }
    else if (key === "style") Object.entries(value).forEach(([name, v]) => node.style.setProperty(name, v));
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  });
  children.forEach((child) => { if (child !== null && child !== undefined) node.append(child); });
  return node;
}

// A translated word for a value from the server (a class, a kind...), or the value
// itself when the page has no word for it yet.
export function label(prefix, value, attrs = {}) {
  const key = `${prefix}_${value}`;
  return hasString(key) ? el("span", { ...attrs, i18n: key }) : el("span", attrs, value);
}

// A short message at the bottom of the page, in the user's language.
export function notify(key, isError = true) {
  const toast = $("toast") || document.body.appendChild(el("div", { id: "toast", role: "status" }));
  toast.className = isError ? "error" : "";
  toast.dataset.i18n = key;
  toast.textContent = t(key);
  toast.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { toast.hidden = true; }, 5000);
}
