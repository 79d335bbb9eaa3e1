// The camera wall: every camera with its state and a recent picture, searchable by name
// and area (without diacritics: "cho gom" finds "Chợ Gốm"), refreshed in place.

import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, notify } from "../lib/dom.js";
import { t } from "../lib/i18n.js";

const PROBLEM_STATES = ["offline", "failed", "stalled", "degraded"];
const LIVE_STATES = ["online", "degraded"];
const REFRESH_MS = 15000;
const STALE_AFTER_S = 300; // a picture this old gets its age shown (dashboard/thumbnails.py)
const tiles = new Map();

function plain(text) {
  return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d").toLowerCase();
}

function tile(cam) {
  const thumb = el("div", { class: "thumb" },
    el("img", { alt: "", loading: "lazy",
      onload: () => thumb.classList.remove("missing"), onerror: () => thumb.classList.add("missing") }),
    el("span", { class: "no-picture", i18n: "no_picture" }),
    el("span", { class: "picture-age", hidden: true }));
  return el("a", { class: "tile", href: `/cameras/${encodeURIComponent(cam.id)}`, "data-camera-id": cam.id,
    "data-search": plain(`${cam.name} ${cam.area} ${cam.id}`), "data-area": cam.area },
  thumb,
  el("div", { class: "tile-name" }, cam.name),
  el("div", { class: "tile-meta" }, el("span", { class: "cam-area" }, cam.area), el("span", { class: "cam-state" })));
}

// "Ảnh 12 phút trước": the age of a picture, in the largest whole unit (at least a minute).
function pictureAge(seconds) {
  const [count, unit] = seconds >= 86400 ? [seconds / 86400, "age_days"]
    : seconds >= 3600 ? [seconds / 3600, "age_hours"] : [Math.max(1, seconds / 60), "age_minutes"];
  return [el("span", { i18n: "picture_age" }), ` ${Math.floor(count)} `, el("span", { i18n: unit })];
}

// The age shows on a picture that is old, or whose camera is not streaming now.
function showAge(node, cam) {
  const age = node.querySelector(".picture-age");
  const seconds = cam.thumbnail_at === null ? 0 : Date.now() / 1000 - cam.thumbnail_at;
  age.hidden = cam.thumbnail_at === null || (seconds < STALE_AFTER_S && LIVE_STATES.includes(cam.state));
  if (!age.hidden) age.replaceChildren(...pictureAge(seconds));
}

// Redraws what changed: the state badge always, the picture when the server has a newer one
// (thumbnail_at changes with it; the URL stays the same while the picture does, so a reload
// of the page costs a 304 per unchanged picture and a refresh costs nothing).
function update(node, cam) {
  const badge = node.querySelector(".cam-state");
  badge.className = `cam-state ${cam.state}`;
  badge.dataset.i18n = `state_${cam.state}`;
  badge.textContent = t(badge.dataset.i18n);
  node.dataset.state = cam.state;
  node.title = cam.detail;
  const img = node.querySelector("img");
  if (cam.thumbnail_at === null) {
    img.parentNode.classList.add("missing");
    img.removeAttribute("src");
  } else {
    const src = `${cam.thumbnail_url}?v=${cam.thumbnail_at}`;
    if (img.getAttribute("src") !== src) {
      img.parentNode.classList.remove("missing"); // a hidden lazy image would never load
      img.src = src;
    }
  }
  showAge(node, cam);
}

function summary(cameras) {
  const count = (state) => cameras.filter((cam) => cam.state === state).length;
  const parts = [el("span", {}, `${cameras.length} `, el("span", { i18n: "cameras_total" }))];
  ["online", ...PROBLEM_STATES, "unknown"].forEach((state) => {
    if (count(state)) parts.push(el("span", { class: `cam-state ${state}` }, `${count(state)} `, el("span", { i18n: `state_${state}` })));
  });
  $("summary").replaceChildren(...parts);
}

function applyFilters() {
  const words = plain($("search").value).split(/\s+/).filter(Boolean);
  const area = $("w-area").value;
  const state = $("w-state").value;
  let shown = 0;
  tiles.forEach((node) => {
    const visible = words.every((word) => node.dataset.search.includes(word))
      && (!area || node.dataset.area === area)
      && (!state || node.dataset.state === state || (state === "problem" && PROBLEM_STATES.includes(node.dataset.state)));
    node.hidden = !visible;
    shown += visible ? 1 : 0;
  });
  $("no-cameras").hidden = shown > 0;
}

async function refresh() {
  const cameras = await api("/api/cameras");
  cameras.forEach((cam) => {
    if (!tiles.has(cam.id)) { tiles.set(cam.id, tile(cam)); $("wall").append(tiles.get(cam.id)); }
    update(tiles.get(cam.id), cam);
  });
  summary(cameras);
  applyFilters();
  return cameras;
}

async function initWall() {
  const cameras = await refresh();
  const areas = [...new Set(cameras.map((cam) => cam.area))].filter(Boolean).sort();
  $("w-area").append(...areas.map((area) => el("option", { value: area }, area)));
  $("wall-filters").addEventListener("input", applyFilters);
  $("wall-filters").addEventListener("submit", (event) => event.preventDefault());
  setInterval(() => refresh().catch((e) => notify(errorKey(e))), REFRESH_MS);
}

boot("cameras", initWall);
