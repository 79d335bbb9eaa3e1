// The login page, in the language last chosen on this browser (else the site's).
"use strict";

// Only a path on this site: "/cameras", never "//elsewhere" or "https://...".
function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
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
  const keys = { 401: "login_failed", 429: "login_blocked", 422: "login_failed" };
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
