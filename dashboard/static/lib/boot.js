// Starts a page: who is logged in, their language, the header, the service worker, then the
// page's own init. Every page module but the login page ends with `boot(active, init)`.
// Once the page's init has run (its buttons answer), <html> gets data-ready: what a test, or
// a script driving the page, waits for before it clicks.

import { api } from "./api.js";
import { renderHeader } from "./header.js";
import { applyLanguage } from "./i18n.js";
import { registerServiceWorker } from "./service_worker.js";
import { M } from "./session.js";

export async function boot(active, init) {
  M.site = await (await fetch("/api/site")).json();
  M.me = await api("/api/me");
  M.lang = M.me.language;
  renderHeader(active);
  applyLanguage();
  registerServiceWorker();
  await init();
  document.documentElement.dataset.ready = "true";
}
