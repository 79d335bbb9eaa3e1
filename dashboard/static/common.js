// What every page shares: strings in the user's language, building elements, calling
// the API (with the CSRF token on changes, and back to the login page on 401), the
// header with the menu, and the page start-up (`boot`).
"use strict";

const M = { lang: "vi", me: null, site: null };
const $ = (id) => document.getElementById(id);

function t(key) {
  const table = window.MATTHAN_STRINGS[M.lang] || window.MATTHAN_STRINGS.vi;
  return table[key] !== undefined ? table[key] : key;
}

function hasString(key) {
  return window.MATTHAN_STRINGS.vi[key] !== undefined;
}

// A translated word for a value from the server (a class, a kind...), or the value
// itself when the page has no word for it yet.
function label(prefix, value, attrs = {}) {
  const key = `${prefix}_${value}`;
  return hasString(key) ? el("span", { ...attrs, i18n: key }) : el("span", attrs, value);
}

// Re-translates every element that names its string: text (data-i18n), placeholder
// (data-i18n-placeholder) and tooltip (data-i18n-title).
function applyLanguage(root = document) {
  document.documentElement.lang = M.lang;
  root.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-title]").forEach((node) => { node.title = t(node.dataset.i18nTitle); });
  document.title = `${t("title")} · ${t(document.body.dataset.page)}`;
}

// el("a", {href: "/", i18n: "nav_alerts", onclick: fn}, child, ...): attributes, a
// translated text, event handlers, style properties ({style: {left: "10%"}}, set through the
// CSSOM: the CSP forbids style attributes); children are nodes or strings.
function el(tag, attrs, ...children) {
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

// Every time on the pages is the site's wall clock, written the site's way whatever the
// browser's language: "dd/mm/yyyy HH:mm:ss", 24 h (vi-VN and en-GB agree on the order).
function formatTime(seconds) {
  const p = siteParts(seconds);
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}:${p.second}`;
}

function siteZone() {
  return M.site ? M.site.timezone : "Asia/Ho_Chi_Minh";
}

// The site's wall clock at `seconds`, in parts (two digits each, year four).
function siteParts(seconds) {
  const parts = {};
  new Intl.DateTimeFormat("en-CA", {
    timeZone: siteZone(), hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(seconds * 1000)).forEach((part) => { parts[part.type] = part.value; });
  return parts;
}

// Date-time fields are text fields in the site's format, "dd/mm/yyyy HH:mm" (":ss" when the
// seconds matter), not <input type="datetime-local">, which writes the browser's format
// (mm/dd/yyyy and AM/PM on an English computer). They are read and filled in the site's zone,
// whatever the zone of the browser's computer.
function siteInputValue(seconds) {
  const p = siteParts(seconds);
  const time = p.second === "00" ? `${p.hour}:${p.minute}` : `${p.hour}:${p.minute}:${p.second}`;
  return `${p.day}/${p.month}/${p.year} ${time}`;
}

const SITE_INPUT = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/;

// Unix seconds of a field's wall time read in the site's zone; null when the field is empty
// or is not a real date and time.
function siteInputSeconds(value) {
  const match = SITE_INPUT.exec(value || "");
  if (!match) return null;
  const [day, month, year, hour, minute, second] = match.slice(1).map((v) => Number(v ?? 0));
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
  const back = new Date(asUtc * 1000);
  const clock = hour > 23 || minute > 59 || second > 59;
  if (clock || back.getUTCDate() !== day || back.getUTCMonth() !== month - 1) {
    return null;  // 31/02, 24:00, 12:61...
  }
  let seconds = asUtc;
  for (let pass = 0; pass < 2; pass += 1) {  // twice: right across a daylight-saving change
    const p = siteParts(seconds);
    const shown = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) / 1000;
    seconds = asUtc - (shown - seconds);
  }
  return seconds;
}

function toLogin() {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

// `detail` is what the server said, when it said it in JSON ({code, message, ...} for a
// refusal the page can explain: see jobs.js).
class ApiError extends Error {
  constructor(status, detail = null) { super(`HTTP ${status}`); this.status = status; this.detail = detail; }
}

// fetch() for the API: JSON in and out, the CSRF token on every change.
async function api(path, options = {}) {
  const method = options.method || "GET";
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = M.me ? M.me.csrf_token : "";
  let body;
  if (options.body !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(options.body); }
  const response = await fetch(path, { method, headers, body, credentials: "same-origin" });
  if (response.status === 401) { toLogin(); throw new ApiError(401); }
  if (!response.ok) throw new ApiError(response.status, await response.json().then((b) => b.detail, () => null));
  return response.status === 204 ? null : response.json();
}

// A short message at the bottom of the page, in the user's language.
function notify(key, isError = true) {
  const toast = $("toast") || document.body.appendChild(el("div", { id: "toast", role: "status" }));
  toast.className = isError ? "error" : "";
  toast.dataset.i18n = key;
  toast.textContent = t(key);
  toast.hidden = false;
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => { toast.hidden = true; }, 5000);
}

function errorKey(error) {
  const known = { 403: "error_forbidden", 404: "error_not_found", 409: "error_conflict", 400: "error_invalid", 422: "error_invalid" };
  return known[error.status] || "error_generic";
}

async function setLanguage(lang) {
  M.lang = lang;
  localStorage.setItem("matthan.lang", lang);
  applyLanguage();
  await api("/api/me/language", { method: "PUT", body: { language: lang } });
}

// Ends the user's sessions on every other device; this page stays logged in.
async function logoutOthers() {
  if (!confirm(t("logout_others_confirm"))) return;
  try {
    const answer = await api("/api/logout-others", { method: "POST" });
    notify(answer.closed ? "logout_others_done" : "logout_others_none", false);
  } catch (error) {
    notify(errorKey(error));
  }
}

async function logout() {
  try { await api("/api/logout", { method: "POST" }); } finally { location.assign("/login"); }
}

function renderHeader(active) {
  const links = [["/", "nav_alerts", "alerts"], ["/cameras", "nav_cameras", "cameras"], ["/reanalysis", "nav_reanalysis", "reanalysis"], ["/plates", "nav_plates", "plates"]];
  links.push(["/search", "nav_search", "search"]);
  links.push(["/cases", "nav_cases", "cases"]);
  if (M.me.role === "admin") links.push(["/audit", "nav_audit", "audit"], ["/users", "nav_users", "users"]);
  links.push(["/notifications", "nav_notifications", "notifications"]);
  const nav = el("nav", {}, ...links.map(([href, key, page]) =>
    el("a", { href, i18n: key, class: page === active ? "active" : null })));
  const header = $("top");
  header.replaceChildren(
    el("h1", {}, el("span", { class: "logo" }, "◉"), " ", el("span", { i18n: "title" }), " · ",
      el("span", { id: "site-name" }, M.site.name)),
    nav,
    el("div", { class: "header-right" },
      el("span", { id: "feed-status", class: "status", hidden: true }),
      el("span", { id: "who", class: "who" }, `${M.me.username} · `, el("span", { i18n: `role_${M.me.role}` })),
      el("button", { id: "lang-toggle", type: "button", i18n: "switch_language", i18nTitle: "switch_language_title",
        onclick: () => setLanguage(M.lang === "vi" ? "en" : "vi").catch((e) => notify(errorKey(e))) }),
      el("button", { id: "logout-others", type: "button", i18n: "logout_others", i18nTitle: "logout_others_title",
        onclick: logoutOthers }),
      el("button", { id: "logout", type: "button", i18n: "logout", onclick: logout })));
}

// The service worker (/sw.js, scope "/") shows the alerts pushed to this device
// (notifications.js turns push on); it caches nothing. A browser without one (or refusing
// it: a private window) still has every page.
function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { scope: "/" })
    .catch((error) => console.warn("service worker not registered:", error));
}

// Starts a page: who is logged in, their language, the header, then the page's own init.
async function boot(active, init) {
  M.site = await (await fetch("/api/site")).json();
  M.me = await api("/api/me");
  M.lang = M.me.language;
  renderHeader(active);
  applyLanguage();
  registerServiceWorker();
  await init();
}
