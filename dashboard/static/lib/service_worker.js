// The service worker (/sw.js, scope "/") shows the alerts pushed to this device
// (pages/notifications.js turns push on); it caches nothing. A browser without one (or
// refusing it: a private window) still has every page.

// The worker's registration (registering it again is harmless: the browser keeps one).
export function serviceWorkerRegistration() {
  return navigator.serviceWorker.register("/sw.js", { scope: "/" });
}

// Registers the worker when the browser has service workers; a refusal is only logged.
export function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  serviceWorkerRegistration().catch((error) => console.warn("service worker not registered:", error));
}
