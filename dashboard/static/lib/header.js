// The top bar of every page but the login page: the site, the menu (the admin's pages for
// admins), the feed status, who is logged in, the language switch and the log-out buttons.

import { api, errorKey } from "./api.js";
import { $, el, notify } from "./dom.js";
import { applyLanguage, t } from "./i18n.js";
import { M } from "./session.js";

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

export function renderHeader(active) {
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
