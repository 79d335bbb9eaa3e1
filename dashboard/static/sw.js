// The service worker, served at /sw.js so that its scope is the whole dashboard ("/").
// It does one thing: show the alerts the dashboard pushes to this device (Web Push), and open
// the alert when the notification is tapped. It has no fetch handler, so it caches nothing:
// every page and answer still comes from the dashboard, marked no-store or no-cache as before,
// and nothing of a logged-in user stays on a shared device.
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

// A push is the alert in JSON (dashboard/push_match.py): camera, rule, kind, severity, the
// time as the site writes it, the link that opens it, and the link to its crop only when the
// user allowed pictures (fetched from the dashboard with the user's session, never carried
// by the push service).
function notificationOf(alert) {
  const title = alert.camera_name ? `${alert.camera_name} · ${alert.rule}` : "Mắt Thần";
  const options = {
    body: alert.at_text || "",
    tag: alert.alert_id ? `alert-${alert.alert_id}` : "matthan",
    icon: "/static/icon.svg",
    badge: "/static/icon.svg",
    timestamp: alert.at ? Math.round(alert.at * 1000) : Date.now(),
    requireInteraction: alert.severity === "critical",
    data: { url: alert.url || "/" },
  };
  if (alert.picture) options.image = alert.picture;
  return [title, options];
}

self.addEventListener("push", (event) => {
  let alert = {};
  try { alert = event.data ? event.data.json() : {}; } catch (error) { alert = {}; }
  const [title, options] = notificationOf(alert);
  event.waitUntil(self.registration.showNotification(title, options));
});

// Opens the alert: in a dashboard window already open (focused), else in a new one. Only
// links of the dashboard itself are followed.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data || {}).url || "/", self.location.origin);
  if (url.origin !== self.location.origin) return;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => new URL(client.url).origin === url.origin);
    if (open) {
      await open.focus();
      try { await open.navigate(url.href); return; } catch (error) { /* not controlled yet */ }
    }
    await self.clients.openWindow(url.href);
  })());
});
