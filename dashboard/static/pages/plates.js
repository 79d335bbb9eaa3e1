// The plates page: search the licence plates the cameras read (part of a plate, camera, area,
// time), each result with the plate's picture and a link that replays the moment on the
// camera page; and the watch list, which every user reads and operators and admins change.
// `/plates?q=75H1` opens with that search done (the plate on an alert card links here).

import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, label, notify } from "../lib/dom.js";
import { applyLanguage, hasString, t } from "../lib/i18n.js";
import { M } from "../lib/session.js";
import { formatTime, siteInputSeconds } from "../lib/time.js";

const PLATE_PAGE = 50;
const Plates = { last: null };

function canChangeWatch() { return M.me.role === "operator" || M.me.role === "admin"; }

// A plate drawn like a plate: black on white, a red frame when it is on the watch list.
function plateText(text, watched) {
  return el("span", { class: watched ? "plate watched" : "plate" }, text);
}

function fillFacts(text, facts) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (facts[name] !== undefined ? String(facts[name]) : whole));
}

// ---- search -----------------------------------------------------------------------------

function fillSearchFilters(cameras) {
  const areas = [...new Set(cameras.map((cam) => cam.area))].filter(Boolean).sort();
  $("p-camera").append(...cameras.map((cam) => el("option", { value: cam.id }, cam.name)));
  $("p-area").append(...areas.map((area) => el("option", { value: area }, area)));
}

// The form as the API's query (times as Unix seconds in the site's zone).
function searchQuery(after) {
  const query = new URLSearchParams({ limit: PLATE_PAGE });
  const text = $("p-text").value.trim();
  const since = siteInputSeconds($("p-since").value);
  const until = siteInputSeconds($("p-until").value);
  if (text) query.set("q", text);
  if ($("p-camera").value) query.set("camera", $("p-camera").value);
  if ($("p-area").value) query.set("area", $("p-area").value);
  if (since !== null) query.set("since", since);
  if (until !== null) query.set("until", until);
  if (after !== null) query.set("before_id", after);
  return query;
}

function renderRead(read) {
  const confidence = `${Math.round(read.confidence * 100)}%`;
  const hit = read.watch_entry
    ? el("div", { class: "watch-hit" }, el("span", { i18n: "plate_watch_hit" }), ": ", plateText(read.watch_entry, false))
    : null;
  return el("li", { class: read.watch_entry ? "plate-read hit" : "plate-read", "data-read-id": read.id },
    el("a", { class: "plate-picture", href: read.replay_url, i18nTitle: "plate_open_replay" },
      el("img", { src: read.crop_url, alt: read.plate, loading: "lazy" })),
    el("div", { class: "plate-body" },
      plateText(read.plate, Boolean(read.watch_entry)),
      hit,
      el("div", { class: "plate-meta" },
        el("span", { class: "time" }, formatTime(read.at)), el("br"),
        el("a", { class: "camera", href: `/cameras/${encodeURIComponent(read.camera_id)}` }, read.camera_name),
        read.area ? ` · ${read.area}` : "", el("br"),
        label("class", read.class_name, { class: "class-name" }), " · ",
        el("span", { i18n: "plate_confidence" }), `: ${confidence}`),
      el("a", { class: "replay-link", href: read.replay_url, i18n: "plate_open_replay" })));
}

// The first page of the search (`more` false) or the next one.
async function searchPlates(more) {
  const reads = await api(`/api/plates?${searchQuery(more ? Plates.last : null)}`);
  const cards = reads.map(renderRead);
  if (more) $("plates").append(...cards);
  else $("plates").replaceChildren(...cards);
  if (reads.length) Plates.last = reads[reads.length - 1].id;
  $("older").hidden = reads.length < PLATE_PAGE;
  $("no-plates").hidden = $("plates").children.length > 0;
}

// ---- the watch list ---------------------------------------------------------------------

function watchRefusal(error) {
  const detail = error && error.detail;
  if (detail && typeof detail === "object" && !Array.isArray(detail) && detail.code) {
    const key = `watch_error_${detail.code}`;
    return hasString(key) ? fillFacts(t(key), detail) : detail.message;
  }
  return t(errorKey(error));
}

function showWatchError(text) {
  $("watch-error").textContent = text;
  $("watch-error").hidden = !text;
}

function renderEntry(entry) {
  const remove = canChangeWatch()
    ? el("button", { type: "button", class: "remove", i18n: "watch_remove", onclick: () => removeEntry(entry) })
    : null;
  return el("tr", { "data-watch-id": entry.id },
    el("td", {}, plateText(entry.pattern, true)),
    el("td", {}, entry.note || "—"),
    el("td", {}, entry.added_by),
    el("td", { class: "time" }, formatTime(entry.added_at)),
    el("td", {}, remove));
}

async function loadWatch() {
  const entries = await api("/api/plates/watch");
  $("watch").replaceChildren(...entries.map(renderEntry));
  $("watch-empty").hidden = entries.length > 0;
}

async function removeEntry(entry) {
  if (!confirm(fillFacts(t("watch_remove_confirm"), entry))) return;
  try {
    await api(`/api/plates/watch/${entry.id}`, { method: "DELETE" });
    notify("watch_removed", false);
    await loadWatch();
  } catch (error) {
    notify(errorKey(error));
  }
}

function setUpWatchForm() {
  if (!canChangeWatch()) { $("watch-readonly").hidden = false; return; }
  const form = $("watch-form");
  form.hidden = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showWatchError("");
    try {
      await api("/api/plates/watch", { method: "POST", body: { pattern: $("w-pattern").value, note: $("w-note").value } });
      form.reset();
      notify("watch_added", false);
      await loadWatch();
    } catch (error) {
      showWatchError(watchRefusal(error));
    }
  });
}

async function initPlates() {
  fillSearchFilters(await api("/api/cameras"));
  applyLanguage($("plate-form"));
  const asked = new URLSearchParams(location.search).get("q");
  if (asked) $("p-text").value = asked;
  const run = (more) => searchPlates(more).catch((e) => notify(errorKey(e)));
  $("plate-form").addEventListener("submit", (event) => { event.preventDefault(); run(false); });
  $("plate-form").addEventListener("reset", () => setTimeout(() => run(false), 0));
  $("p-camera").addEventListener("change", () => run(false));
  $("p-area").addEventListener("change", () => run(false));
  $("older").addEventListener("click", () => run(true));
  setUpWatchForm();
  await Promise.all([searchPlates(false), loadWatch()]);
}

boot("plates", initPlates);
