// The login page, in the language last chosen on this browser (else the site's).

import { $ } from "../lib/dom.js";
import { applyLanguage, t } from "../lib/i18n.js";
import { M } from "../lib/session.js";

// Where to go after logging in: `next` if it is a path on this site ("/cameras?area=x"),
// else "/". The one check of `next` on the whole site. A browser drops tabs and newlines
// from a URL and reads a backslash as "/", so "/\t/evil.com" (from next=/%09/evil.com) would
// become "//evil.com", another site: such characters refuse the path outright, and what
// is left must still resolve to this origin.
function safeNext(raw) {
  if (!raw || raw[0] !== "/" || raw[1] === "/" || raw.includes("\\")) return "/";
  if (/[\u0000-\u001f\u007f]/.test(raw)) return "/";
  let url;
  try { url = new URL(raw, location.origin); } catch { return "/"; }
  return url.origin === location.origin ? url.pathname + url.search + url.hash : "/";
}

function nextPath() {
  return safeNext(new URLSearchParams(location.search).get("next"));
}

function showError(key) {
  const box = $("login-error");
  box.dataset.i18n = key;
  box.textContent = t(key);
  box.hidden = false;
}

async function submitLogin(event) {
  event.preventDefault();
  const body = { username: $("username").value.trim().toLowerCase(), password: $("password").value };
  const response = await fetch("/api/login", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), credentials: "same-origin",
  });
  if (response.ok) { location.assign(nextPath()); return; }
  const keys = { 401: "login_failed", 429: "login_blocked", 422: "login_failed", 503: "login_busy" };
  showError(keys[response.status] || "error_generic");
  $("password").value = "";
}

async function initLogin() {
  M.site = await (await fetch("/api/site")).json();
  M.lang = localStorage.getItem("matthan.lang") || M.site.language;
  $("site-name").textContent = M.site.name;
  applyLanguage();
  $("lang-toggle").addEventListener("click", () => {
    M.lang = M.lang === "vi" ? "en" : "vi";
    localStorage.setItem("matthan.lang", M.lang);
    applyLanguage();
  });
  $("login").addEventListener("submit", (event) => submitLogin(event).catch(() => showError("error_generic")));
}

initLogin();
