// The alerts page: camera states on the side, the live alert feed with filters, sound,
// acknowledge/resolve, and history pages.

import { AlertList, beep, connectFeed, latestAlertId, muteButton, showPicture } from "../lib/alerts.js";
import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, notify } from "../lib/dom.js";
import { applyLanguage } from "../lib/i18n.js";
import { siteInputSeconds } from "../lib/time.js";

const CLASSES = ["person", "car", "motorcycle", "bicycle", "bus", "truck"];

function option(value, label, i18n) {
  return el("option", { value, i18n }, i18n ? null : label);
}

function fillFilters(cameras) {
  const unique = (values) => [...new Set(values)].filter(Boolean).sort();
  $("f-camera").append(...cameras.map((cam) => option(cam.id, cam.name)));
  $("f-area").append(...unique(cameras.map((cam) => cam.area)).map((area) => option(area, area)));
  $("f-rule").append(...unique(cameras.flatMap((cam) => cam.rules)).map((rule) => option(rule, rule)));
  $("f-class").append(...CLASSES.map((name) => option(name, null, `class_${name}`)));
}

// The filter form as API query values (times as Unix seconds).
function currentFilters() {
  const seconds = (input) => siteInputSeconds(input.value);
  return {
    camera: $("f-camera").value, area: $("f-area").value, rule: $("f-rule").value,
    class_name: $("f-class").value, state: $("f-state").value,
    since: seconds($("f-since")), until: seconds($("f-until")),
  };
}

function renderCameraStates(cameras) {
  $("cameras").replaceChildren(...cameras.map((cam) =>
    el("li", { "data-camera-id": cam.id, title: cam.detail },
      el("a", { href: `/cameras/${encodeURIComponent(cam.id)}` }, cam.name, el("span", { class: "cam-area" }, cam.area)),
      el("span", { class: `cam-state ${cam.state}`, i18n: `state_${cam.state}` }))));
}

async function refreshCameras() {
  renderCameraStates(await api("/api/cameras"));
}

// A phone notification links here with ?alert=ID (dashboard/push_match.py): that alert is
// marked in the list when it is shown there, and its picture opens.
async function openLinkedAlert() {
  const id = Number(new URLSearchParams(location.search).get("alert"));
  if (!Number.isInteger(id) || id < 1) return;
  const [alert] = await api(`/api/alerts?before=${id + 1}&limit=1`);
  if (!alert || alert.id !== id) { notify("error_not_found"); return; }
  const card = document.querySelector(`#alerts [data-alert-id="${id}"]`);
  if (card) { card.classList.add("linked"); card.scrollIntoView({ block: "center" }); }
  showPicture(alert);
}

async function initFeed() {
  $("sound-slot").append(muteButton());
  const cameras = await api("/api/cameras");
  renderCameraStates(cameras);
  fillFilters(cameras);
  applyLanguage($("filters"));
  const list = new AlertList($("alerts"), currentFilters);
  $("alerts").addEventListener("changed", (event) => {
    $("alert-count").textContent = event.detail.unhandled;
    $("alert-count").classList.toggle("zero", event.detail.unhandled === 0);
    $("no-alerts").hidden = event.detail.shown > 0;
  });
  $("alerts").addEventListener("page", (event) => { $("older").hidden = !event.detail.more; });
  $("older").addEventListener("click", () => list.older().catch((e) => notify(errorKey(e))));
  $("filters").addEventListener("change", () => list.load().catch((e) => notify(errorKey(e))));
  $("filters").addEventListener("reset", () => setTimeout(() => list.load().catch((e) => notify(errorKey(e))), 0));
  const after = await latestAlertId();
  await list.load();
  openLinkedAlert().catch((e) => notify(errorKey(e)));
  connectFeed(after, (alert, isNew) => { if (list.upsert(alert, isNew)) beep(alert.severity); }, () => list.load());
  setInterval(() => refreshCameras().catch((e) => notify(errorKey(e))), 5000);
}

boot("alerts", initFeed);
