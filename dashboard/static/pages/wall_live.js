// The live wall: a grid of 1, 4, 9 or 16 live tiles (lib/wall_tile.js), laid out from the
// user's saved layouts (/api/wall/layouts; the one saved last opens), and new alerts pulling
// their camera into the wall when the layout says so.
//
// An alert of a camera not on the wall replaces the tile pulled least recently (a tile never
// pulled first, an empty one before one showing a camera); a pinned tile is never replaced.
// Tiles hold a peer connection only while the page is shown and they are in view.

import { connectFeed, latestAlertId } from "../lib/alerts.js";
import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, notify } from "../lib/dom.js";
import { expose } from "../lib/inspect.js";
import { WallTile } from "../lib/wall_tile.js";

const WALL_STATES_MS = 15000;
const WALL_RETRY_AFTER_FREE_MS = 1500; // the server closes a peer a moment after the page does
const Wall = { tiles: [], cameras: new Map(), layouts: [], cap: 4, observer: null, freeTimer: null, alertsSeen: 0 };

function columnsOf(grid) {
  return Math.round(Math.sqrt(grid));
}

// The wall's tile events: a view freed lets a tile refused for the cap try again.
const tileEvents = {
  changed: () => { $("wall-layout").value = ""; },
  freed: () => {
    clearTimeout(Wall.freeTimer);
    Wall.freeTimer = setTimeout(() => {
      const capped = Wall.tiles.find((tile) => tile.state === "capped");
      if (capped) capped.retry();
    }, WALL_RETRY_AFTER_FREE_MS);
  },
};

// Makes the grid `grid` tiles, keeping the tiles (and their peers) that stay.
function setGrid(grid) {
  while (Wall.tiles.length > grid) {
    const tile = Wall.tiles.pop();
    Wall.observer.unobserve(tile.node);
    tile.disconnect();
    tile.node.remove();
  }
  while (Wall.tiles.length < grid) {
    const tile = new WallTile(Wall.tiles.length, Wall.cameras, tileEvents);
    Wall.tiles.push(tile);
    $("live-wall").append(tile.node);
    Wall.observer.observe(tile.node);
  }
  $("wall-grid").value = String(grid);
  $("live-wall").style.setProperty("--wall-columns", String(columnsOf(grid)));
  $("wall-cap").hidden = grid <= Wall.cap;
}

function applyLayout(layout) {
  setGrid(layout.grid);
  layout.tiles.forEach((saved, index) => {
    const tile = Wall.tiles[index];
    tile.setPinned(saved.pinned);
    tile.setCamera(saved.camera_id);
  });
  $("wall-pull").checked = layout.pull_alerts;
  $("wall-name").value = layout.name || "";
  $("wall-layout").value = layout.name || "";
}

// A first wall for a user with no layout: the first cameras, four tiles, no pulling.
function defaultLayout() {
  const ids = [...Wall.cameras.keys()];
  const tiles = [0, 1, 2, 3].map((index) => ({ camera_id: ids[index] || null, pinned: false }));
  return { name: "", grid: 4, tiles, pull_alerts: false };
}

function currentLayout() {
  return {
    grid: Wall.tiles.length,
    tiles: Wall.tiles.map((tile) => ({ camera_id: tile.cameraId, pinned: tile.pinned })),
    pull_alerts: $("wall-pull").checked,
  };
}

function fillLayouts() {
  $("wall-layout").replaceChildren(el("option", { value: "", i18n: "wall_layout_unsaved" }),
    ...Wall.layouts.map((layout) => el("option", { value: layout.name }, layout.name)));
}

async function saveLayout() {
  const name = $("wall-name").value.trim();
  if (!name) return;
  const saved = await api(`/api/wall/layouts/${encodeURIComponent(name)}`, { method: "PUT", body: currentLayout() });
  Wall.layouts = [saved, ...Wall.layouts.filter((layout) => layout.name !== saved.name)];
  fillLayouts();
  $("wall-layout").value = saved.name;
  notify("wall_saved", false);
}

async function deleteLayout() {
  const name = $("wall-layout").value || $("wall-name").value.trim();
  if (!name || !Wall.layouts.some((layout) => layout.name === name)) return;
  await api(`/api/wall/layouts/${encodeURIComponent(name)}`, { method: "DELETE" });
  Wall.layouts = Wall.layouts.filter((layout) => layout.name !== name);
  fillLayouts();
  notify("wall_deleted", false);
}

// A new alert: its camera comes onto the wall if the layout pulls alerts and it is not there.
function pullIntoWall(alert) {
  if (!$("wall-pull").checked || !Wall.cameras.has(alert.camera_id)) return null;
  const shown = Wall.tiles.find((tile) => tile.cameraId === alert.camera_id);
  if (shown) { shown.markPulled(alert); return shown; }
  const free = Wall.tiles.filter((tile) => !tile.pinned);
  if (!free.length) return null;
  free.sort((a, b) => a.pulledAt - b.pulledAt
    || Number(Boolean(a.cameraId)) - Number(Boolean(b.cameraId)) || a.index - b.index);
  const tile = free[0];
  tile.setCamera(alert.camera_id, true);
  tile.markPulled(alert);
  return tile;
}

async function refreshStates() {
  (await api("/api/cameras")).forEach((cam) => {
    if (!Wall.cameras.has(cam.id)) return;
    Object.assign(Wall.cameras.get(cam.id), cam);
    Wall.tiles.filter((tile) => tile.cameraId === cam.id).forEach((tile) => tile.showState(cam));
  });
}

function syncAll() {
  Wall.tiles.forEach((tile) => tile.sync());
}

function setUpControls() {
  $("wall-grid").addEventListener("change", () => { setGrid(Number($("wall-grid").value)); tileEvents.changed(); });
  $("wall-layout").addEventListener("change", () => {
    const layout = Wall.layouts.find((saved) => saved.name === $("wall-layout").value);
    if (layout) applyLayout(layout);
  });
  $("wall-controls").addEventListener("submit", (event) => {
    event.preventDefault();
    saveLayout().catch((e) => notify(errorKey(e)));
  });
  $("wall-delete").addEventListener("click", () => deleteLayout().catch((e) => notify(errorKey(e))));
}

async function initWallLive() {
  const [cameras, saved] = await Promise.all([api("/api/cameras"), api("/api/wall/layouts")]);
  cameras.forEach((cam) => Wall.cameras.set(cam.id, cam));
  Wall.layouts = saved.layouts;
  Wall.cap = saved.live_peers_per_user;
  $("wall-cap").replaceChildren(el("span", { i18n: "wall_cap_hint" }), ` ${Wall.cap}.`);
  Wall.observer = new IntersectionObserver((entries) => entries.forEach((entry) => {
    const tile = Wall.tiles.find((candidate) => candidate.node === entry.target);
    if (!tile) return;
    tile.inView = entry.isIntersecting;
    tile.sync();
  }));
  fillLayouts();
  setUpControls();
  applyLayout(Wall.layouts[0] || defaultLayout());
  document.addEventListener("visibilitychange", syncAll);
  window.addEventListener("pagehide", () => Wall.tiles.forEach((tile) => tile.disconnect()));
  expose("wall", { tiles: Wall.tiles, layouts: () => Wall.layouts, alertsSeen: () => Wall.alertsSeen });
  const after = await latestAlertId();
  connectFeed(after, (alert, isNew) => {
    if (!isNew) return;
    Wall.alertsSeen += 1;
    pullIntoWall(alert);
  }, () => {});
  setInterval(() => refreshStates().catch((e) => notify(errorKey(e))), WALL_STATES_MS);
}

boot("cameras", initWallLive);
