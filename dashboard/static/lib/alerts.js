// Alerts on a page: the card, the list with filters and paging, the picture and review
// dialogs, the alert sound, and the live feed socket (reconnects by itself and asks for
// what it missed with ?after=<last id>). Used by the alerts page and the camera page.

import { api, errorKey } from "./api.js";
import { $, el, label, notify } from "./dom.js";
import { applyLanguage, t } from "./i18n.js";
import { M } from "./session.js";
import { formatTime } from "./time.js";

// Browsers let a page play sound only after a click on it (unless the station starts
// Chromium with --autoplay-policy=no-user-gesture-required): until then the sound button
// says so, and the first click anywhere turns sound on.
const Sound = { muted: localStorage.getItem("matthan.muted") === "1", context: new AudioContext() };
document.addEventListener("click", () => Sound.context.resume(), { once: true });

// A short beep (two for a critical alert), made with WebAudio: no sound file needed.
export function beep(severity) {
  if (Sound.muted || Sound.context.state !== "running") return;
  const times = severity === "critical" ? [0, 0.3] : [0];
  times.forEach((delay) => {
    const start = Sound.context.currentTime + delay;
    const tone = Sound.context.createOscillator();
    const gain = Sound.context.createGain();
    tone.frequency.value = severity === "critical" ? 1200 : 880;
    gain.gain.setValueAtTime(0.25, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + 0.25);
    tone.connect(gain).connect(Sound.context.destination);
    tone.start(start);
    tone.stop(start + 0.25);
  });
}

export function muteButton() {
  const button = el("button", { id: "mute", type: "button" });
  const show = () => {
    const locked = Sound.context.state !== "running";
    button.dataset.i18n = Sound.muted ? "sound_off" : locked ? "sound_locked" : "sound_on";
    button.textContent = t(button.dataset.i18n);
    button.classList.toggle("warn", !Sound.muted && locked);
  };
  Sound.context.addEventListener("statechange", show);
  button.addEventListener("click", () => {
    Sound.muted = !Sound.muted;
    localStorage.setItem("matthan.muted", Sound.muted ? "1" : "0");
    show();
  });
  show();
  return button;
}

export function canReview() { return M.me.role === "operator" || M.me.role === "admin"; }

function reviewLine(review) {
  return el("li", { class: "review" },
    el("span", { i18n: `review_${review.action}` }), " ", el("b", {}, review.username), " · ",
    el("span", { class: "time" }, formatTime(review.at)),
    review.note ? el("q", {}, review.note) : null);
}

export function alertMeta(alert) {
  const confidence = alert.confidence !== null ? ` (${Math.round(alert.confidence * 100)}%)` : "";
  const ruleKey = alert.kind === "plate_watch" ? "watch_entry" : "rule";  // the entry it matched
  const rule = alert.rule !== alert.kind ? [" · ", el("span", { i18n: ruleKey }), `: ${alert.rule}`] : [];
  const object = alert.class_name
    ? [el("span", { i18n: "object" }), ": ", label("class", alert.class_name, { class: "class-name" }), confidence, " · "]
    : [];
  return el("div", { class: "meta" },
    el("span", { class: "time" }, formatTime(alert.started_at)), alert.area ? ` · ${alert.area}` : "", el("br"),
    label("kind", alert.kind, { class: "kind" }), ...rule, el("br"),
    ...object, label("severity", alert.severity, { class: "severity" }));
}

// The plate read on the alert's vehicle, drawn like a plate; it opens the plates page's
// search for it (every read of that plate, each with its replay link).
function plateBadge(plate) {
  return el("a", { class: "plate", href: `/plates?q=${encodeURIComponent(plate)}`, i18nTitle: "plate_label" }, plate);
}

function renderAlert(alert, fresh) {
  const actions = el("div", { class: "actions" });
  if (canReview() && alert.state === "new") {
    actions.append(el("button", { type: "button", class: "ack", i18n: "acknowledge", onclick: () => openReview(alert, "acknowledge") }));
  }
  if (canReview() && alert.state !== "resolved") {
    actions.append(el("button", { type: "button", class: "resolve", i18n: "resolve", onclick: () => openReview(alert, "resolve") }));
  }
  if (canReview()) actions.append(addToCaseButton("alerts", alert.id));
  return el("li", { class: `alert ${alert.severity} state-${alert.state}${fresh ? " fresh" : ""}`, "data-alert-id": alert.id, "data-state": alert.state },
    el("img", { src: alert.snapshot_url, alt: "", loading: "lazy", class: "snapshot", i18nTitle: "enlarge", onclick: () => showPicture(alert) }),
    el("div", { class: "body" },
      el("div", { class: "title" },
        el("a", { class: "camera", href: `/cameras/${encodeURIComponent(alert.camera_id)}` }, alert.camera_name),
        el("span", { class: `badge alert-state ${alert.state}`, i18n: `alert_state_${alert.state}` }),
        alert.plate ? plateBadge(alert.plate) : null),
      alertMeta(alert),
      el("ul", { class: "reviews" }, ...alert.reviews.map(reviewLine)),
      actions));
}

// "Add to case" (the cases page): `kind` is "alerts" or "findings" (a re-analysis finding);
// the dialog lists the open cases the user may see and puts the item in the one picked.
export function addToCaseButton(kind, id) {
  return el("button", { type: "button", class: "add-to-case", i18n: "case_add_to", onclick: () => openCasePicker(kind, id) });
}

function casePicker() {
  if ($("case-dialog")) return $("case-dialog");
  const select = el("select", { id: "case-pick" });
  const dialog = el("dialog", { id: "case-dialog" });
  const form = el("form", {}, el("h3", { i18n: "case_add_to_title" }),
    el("label", {}, el("span", { i18n: "case_pick" }), " ", select),
    el("p", { id: "case-pick-none", class: "hint", i18n: "case_no_open_cases", hidden: true }),
    el("div", { class: "buttons" },
      el("button", { type: "button", i18n: "cancel", onclick: () => dialog.close() }),
      el("button", { type: "submit", class: "primary", i18n: "confirm" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!select.value) return;
    try {
      await api(`/api/cases/${select.value}/${dialog.dataset.kind}/${dialog.dataset.itemId}`, { method: "POST" });
      dialog.close();
      notify("case_added", false);
    } catch (error) { notify(errorKey(error)); }
  });
  dialog.append(form);
  document.body.append(dialog);
  return dialog;
}

async function openCasePicker(kind, id) {
  const dialog = casePicker();
  Object.assign(dialog.dataset, { kind, itemId: id });
  try {
    const open = await api("/api/cases?state=open");
    $("case-pick").replaceChildren(...open.map((item) => el("option", { value: item.id }, `#${item.id} ${item.title}`)));
    $("case-pick").hidden = open.length === 0;
    $("case-pick-none").hidden = open.length > 0;
    dialog.showModal();
  } catch (error) { notify(errorKey(error)); }
}

export function showPicture(alert) {
  let dialog = $("picture-dialog");
  if (!dialog) {
    dialog = el("dialog", { id: "picture-dialog", onclick: () => dialog.close() },
      el("img", { alt: "" }), el("p", { class: "hint", i18n: "click_to_close" }));
    document.body.append(dialog);
  }
  dialog.querySelector("img").src = alert.snapshot_url;
  dialog.showModal();
}

function reviewDialog() {
  if ($("review-dialog")) return $("review-dialog");
  const note = el("textarea", { id: "review-note", maxlength: 1000, rows: 3, i18nPlaceholder: "note_placeholder" });
  const dialog = el("dialog", { id: "review-dialog" });
  const form = el("form", {}, el("h3", {}), note, el("div", { class: "buttons" },
    el("button", { type: "button", i18n: "cancel", onclick: () => dialog.close() }),
    el("button", { type: "submit", class: "primary", i18n: "confirm" })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { alertId, action } = dialog.dataset;
    try {
      const updated = await api(`/api/alerts/${alertId}/${action}`, { method: "POST", body: { note: note.value } });
      dialog.close();
      document.dispatchEvent(new CustomEvent("alert-changed", { detail: updated }));
      notify(`saved_${action}`, false);
    } catch (error) { notify(errorKey(error)); }
  });
  dialog.append(form);
  document.body.append(dialog);
  return dialog;
}

function openReview(alert, action) {
  const dialog = reviewDialog();
  Object.assign(dialog.dataset, { alertId: alert.id, action });
  dialog.querySelector("h3").dataset.i18n = `${action}_title`;
  dialog.querySelector("textarea").value = "";
  applyLanguage(dialog);
  dialog.showModal();
}

// The alerts shown for a filter, newest first; `older()` pages back through history.
export class AlertList {
  constructor(node, filters) {
    this.node = node;
    this.filters = filters; // () => {camera, area, rule, class_name, state, since, until}
    this.oldest = null;
    document.addEventListener("alert-changed", (event) => this.upsert(event.detail, false));
  }

  matches(alert) {
    const f = this.filters();
    return (!f.camera || alert.camera_id === f.camera) && (!f.area || alert.area === f.area)
      && (!f.rule || alert.rule === f.rule) && (!f.class_name || alert.class_name === f.class_name)
      && (!f.state || alert.state === f.state) && (!f.since || alert.started_at >= f.since)
      && (!f.until || alert.started_at < f.until);
  }

  async fetchPage(before) {
    const query = new URLSearchParams({ limit: 50 });
    Object.entries(this.filters()).forEach(([key, value]) => { if (value) query.set(key, value); });
    if (before) query.set("before", before);
    const alerts = await api(`/api/alerts?${query}`);
    if (alerts.length) this.oldest = alerts[alerts.length - 1].id;
    this.node.dispatchEvent(new CustomEvent("page", { detail: { more: alerts.length === 50 } }));
    return alerts;
  }

  async load() {
    this.oldest = null;
    this.node.replaceChildren(...(await this.fetchPage(null)).map((alert) => renderAlert(alert, false)));
    this.changed();
  }

  async older() {
    if (this.oldest === null) return;
    this.node.append(...(await this.fetchPage(this.oldest)).map((alert) => renderAlert(alert, false)));
    this.changed();
  }

  // A new alert goes on top; a changed one is redrawn where it is (or dropped if the
  // filter no longer wants it). Returns true when a new alert was added.
  upsert(alert, fresh) {
    const shown = this.node.querySelector(`[data-alert-id="${alert.id}"]`);
    const wanted = this.matches(alert);
    if (shown && wanted) shown.replaceWith(renderAlert(alert, false));
    else if (shown) shown.remove();
    else if (wanted && fresh) this.node.prepend(renderAlert(alert, true));
    while (this.node.children.length > 500) this.node.lastElementChild.remove();
    this.changed();
    return !shown && wanted && fresh;
  }

  changed() {
    this.node.dispatchEvent(new CustomEvent("changed", { detail: {
      shown: this.node.children.length,
      unhandled: this.node.querySelectorAll('[data-state="new"]').length,
    } }));
  }
}

function setFeedStatus(key) {
  const status = $("feed-status");
  status.hidden = false;
  status.className = `status ${key === "feed_live" ? "live" : "offline"}`;
  status.dataset.i18n = key;
  status.textContent = t(key);
}

// Opens the live feed from alert id `after`; onAlert(alert, isNew) for each message,
// onReconnect() after a lost connection came back (to redraw what may have changed).
export function connectFeed(after, onAlert, onReconnect) {
  let last = after;
  let opened = false;
  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/alerts?after=${last}`);
    socket.onopen = () => { setFeedStatus("feed_live"); if (opened) onReconnect(); opened = true; };
    socket.onmessage = (event) => {
      const alert = JSON.parse(event.data);
      const isNew = alert.id > last;
      last = Math.max(last, alert.id);
      onAlert(alert, isNew);
    };
    socket.onclose = () => {
      setFeedStatus("feed_lost");
      // A refused or closed socket may mean the session ended: api() goes to login then.
      api("/api/me").catch(() => {}).finally(() => setTimeout(connect, 2000));
    };
  };
  setFeedStatus("feed_connecting");
  connect();
}

export async function latestAlertId() {
  const newest = await api("/api/alerts?limit=1");
  return newest.length ? newest[0].id : 0;
}
