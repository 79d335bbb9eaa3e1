// The notifications page: alerts on this browser (a phone with the dashboard installed) by
// Web Push. The user turns push on for this browser, chooses which alerts come (cameras and
// rules of their areas, kinds, the least severity, whether a push links the picture), and
// sees and removes their other devices. The service worker (/sw.js) shows what arrives.

import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, label, notify } from "../lib/dom.js";
import { applyLanguage, t } from "../lib/i18n.js";
import { serviceWorkerRegistration } from "../lib/service_worker.js";
import { formatTime } from "../lib/time.js";

// Every alert kind (common/alert_writer.py AlertKind; tests/test_alert_writer.py keeps them equal).
const KINDS = ["intrusion", "loitering", "line_crossing", "crowd", "plate_watch", "camera_offline",
  "tamper_covered", "tamper_blurred", "tamper_moved", "tamper_frozen", "disk_low", "analysis_down"];
const Push = { subscriptions: [], endpoint: null, target: null };

function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

// The VAPID public key (base64url) as the bytes pushManager.subscribe wants.
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (char) => char.charCodeAt(0));
}

async function browserSubscription() {
  if (!pushSupported()) return null;
  const registration = await navigator.serviceWorker.getRegistration("/");
  return registration ? registration.pushManager.getSubscription() : null;
}

function check(group, value, text) {
  return el("label", { class: "check" }, el("input", { type: "checkbox", name: group, value }), " ", text);
}

function renderChoices(cameras) {
  const rules = [...new Set(cameras.flatMap((cam) => cam.rules))].sort();
  $("push-cameras").replaceChildren(...cameras.map((cam) => check("camera", cam.id, cam.name)));
  $("push-kinds").replaceChildren(...KINDS.map((kind) => check("kind", kind, label("kind", kind))));
  $("push-rules").replaceChildren(...rules.map((rule) => check("rule", rule, rule)));
}

function checked(group) {
  return [...document.querySelectorAll(`#push-filters input[name="${group}"]:checked`)].map((box) => box.value);
}

function readFilters() {
  return {
    cameras: checked("camera"), kinds: checked("kind"), rules: checked("rule"),
    min_severity: $("push-severity").value, allow_picture: $("push-picture").checked,
  };
}

function showFilters(filters) {
  const wanted = { camera: filters.cameras, kind: filters.kinds, rule: filters.rules };
  document.querySelectorAll("#push-filters input[type=checkbox][name]").forEach((box) => {
    box.checked = wanted[box.name].includes(box.value);
  });
  $("push-severity").value = filters.min_severity;
  $("push-picture").checked = filters.allow_picture;
}

function isThisBrowser(subscription) {
  return Push.endpoint !== null && subscription.endpoint === Push.endpoint;
}

// Which subscription the form edits: its service and since when, or "none yet".
function showTarget() {
  const target = Push.subscriptions.find((sub) => sub.id === Push.target);
  const text = $("push-target");
  if (!target) {
    text.replaceChildren(el("span", { i18n: "push_target_none" }));
    return;
  }
  const mark = isThisBrowser(target) ? [" (", el("span", { i18n: "push_this_browser" }), ")"] : [];
  text.replaceChildren(`${target.push_service} · ${formatTime(target.created_at)}`, ...mark);
}

function edit(subscription) {
  Push.target = subscription.id;
  showFilters(subscription.filters);
  showTarget();
}

function filterSummary(filters) {
  const count = (values, key) => [el("span", { i18n: key }), ": ",
    values.length ? String(values.length) : el("span", { i18n: "push_all" })];
  return el("span", { class: "facts" },
    ...count(filters.cameras, "cameras"), " · ", ...count(filters.rules, "push_rules"), " · ",
    label("severity", filters.min_severity), " · ",
    el("span", { i18n: filters.allow_picture ? "push_with_picture" : "push_without_picture" }));
}

function deviceRow(subscription) {
  return el("tr", { "data-subscription-id": subscription.id, class: isThisBrowser(subscription) ? "this-browser" : null },
    el("td", {}, subscription.push_service,
      isThisBrowser(subscription) ? [" (", el("span", { i18n: "push_this_browser" }), ")"] : null),
    el("td", { class: "time" }, formatTime(subscription.created_at)),
    el("td", {}, filterSummary(subscription.filters)),
    el("td", {},
      el("button", { type: "button", class: "edit", i18n: "push_edit", onclick: () => edit(subscription) }), " ",
      el("button", { type: "button", class: "remove", i18n: "push_remove", onclick: () => remove(subscription) })));
}

async function refresh() {
  const current = await browserSubscription().catch(() => null);
  Push.endpoint = current ? current.endpoint : null;
  Push.subscriptions = await api("/api/push/subscriptions");
  $("push-devices").replaceChildren(...Push.subscriptions.map(deviceRow));
  $("push-no-devices").hidden = Push.subscriptions.length > 0;
  const mine = Push.subscriptions.find(isThisBrowser);
  if (mine && Push.target === null) edit(mine);
  if (!Push.subscriptions.some((sub) => sub.id === Push.target)) Push.target = null;
  showTarget();
  showState(mine !== undefined);
}

function showState(on) {
  const key = !pushSupported() ? "push_unsupported"
    : Notification.permission === "denied" ? "push_denied" : on ? "push_on" : "push_off";
  const state = $("push-state");
  state.dataset.i18n = key;
  state.textContent = t(key);
  $("push-on").hidden = on || !pushSupported();
  $("push-off").hidden = !on;
}

async function turnOn() {
  if (await Notification.requestPermission() !== "granted") { notify("push_denied"); showState(false); return; }
  const registration = await serviceWorkerRegistration();
  const { public_key: key } = await api("/api/push/key");
  let subscription;
  try {
    subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
  } catch (error) {
    notify("push_subscribe_failed");
    return;
  }
  const made = await api("/api/push/subscription", { method: "PUT", body: { subscription: subscription.toJSON(), filters: readFilters() } });
  Push.target = made.id;
  notify("push_turned_on", false);
  await refresh();
}

async function turnOff() {
  const mine = Push.subscriptions.find(isThisBrowser);
  const current = await browserSubscription();
  if (current) await current.unsubscribe();
  if (mine) await api(`/api/push/subscriptions/${mine.id}`, { method: "DELETE" });
  notify("push_turned_off", false);
  await refresh();
}

async function remove(subscription) {
  if (!confirm(t("push_remove_confirm"))) return;
  if (isThisBrowser(subscription)) { await turnOff(); return; }
  await api(`/api/push/subscriptions/${subscription.id}`, { method: "DELETE" });
  notify("push_removed", false);
  await refresh();
}

async function save(event) {
  event.preventDefault();
  if (Push.target === null) { notify("push_target_none"); return; }
  await api(`/api/push/subscriptions/${Push.target}`, { method: "PATCH", body: readFilters() });
  notify("push_saved", false);
  await refresh();
}

async function initNotifications() {
  renderChoices(await api("/api/cameras"));
  applyLanguage($("push-filters"));
  const failed = (error) => notify(errorKey(error));
  $("push-on").addEventListener("click", () => turnOn().catch(failed));
  $("push-off").addEventListener("click", () => turnOff().catch(failed));
  $("push-filters").addEventListener("submit", (event) => save(event).catch(failed));
  await refresh();
}

boot("notifications", initNotifications);
