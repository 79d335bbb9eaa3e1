// One tile of the live wall: a camera's live WebRTC view (live.js) with its detections drawn
// over it (overlay.js), the camera's name and state, a picker for the camera and a pin.
//
// A tile holds a peer connection only while it is worth one: it has a camera, the page is
// shown (not a hidden tab) and the tile is in view (IntersectionObserver). `sync()` opens or
// closes the peer to match, so the server's live view caps count only the tiles someone
// can see. A tile refused for the user's cap (429) says so and tries again when another tile
// of the wall frees a view (or after half a minute: another window may have closed one); one
// whose stream failed tries again after a while.

import { el } from "./dom.js";
import { t } from "./i18n.js";
import { LiveView } from "./live.js";
import { DetectionOverlay } from "./overlay.js";
import { formatTime } from "./time.js";

const TILE_RETRY_MS = 10000; // after a failure (the camera could not be opened...)
const TILE_CAP_RETRY_MS = 30000; // past the cap, if no tile of this wall frees a view first

export class WallTile {
  constructor(index, cameras, events) {
    this.index = index;
    this.cameras = cameras; // Map id -> camera (those the user may see)
    this.events = events; // { changed(tile), freed(tile) }
    this.cameraId = null;
    this.pinned = false;
    this.pulledAt = 0; // when an alert last pulled its camera in (ms), 0: never
    this.inView = false;
    this.current = "idle"; // see `state`
    this.live = null;
    this.overlay = null;
    this.generation = 0;
    this.retryTimer = null;
    this.build();
  }

  build() {
    this.video = el("video", { class: "live-video", muted: true, playsinline: true });
    this.video.muted = true;
    this.canvas = el("canvas", { class: "live-overlay", hidden: true });
    this.empty = el("span", { class: "tile-empty", i18n: "wall_tile_empty" });
    this.status = el("span", { class: "tile-status" });
    this.stage = el("div", { class: "live-stage", i18nTitle: "wall_open_camera",
      onclick: () => { if (this.cameraId) location.assign(`/cameras/${encodeURIComponent(this.cameraId)}`); } },
    this.video, this.canvas, this.empty, this.status);
    this.name = el("a", { class: "tile-name" });
    this.badge = el("span", { class: "cam-state" });
    this.pulled = el("span", { class: "tile-pulled", hidden: true });
    this.picker = el("select", { class: "tile-camera", onchange: () => {
      this.setCamera(this.picker.value || null);
      this.events.changed(this);
    } },
    el("option", { value: "", i18n: "wall_tile_none" }),
    ...[...this.cameras.values()].map((cam) => el("option", { value: cam.id }, cam.name)));
    this.pin = el("input", { type: "checkbox", class: "tile-pin-box", onchange: () => {
      this.pinned = this.pin.checked;
      this.events.changed(this);
    } });
    this.node = el("div", { class: "live-tile", "data-index": String(this.index), "data-state": this.current },
      this.stage,
      el("div", { class: "live-tile-bar" }, this.name, this.badge, this.pulled,
        el("label", { class: "tile-pin", i18nTitle: "wall_pin_title" }, this.pin, el("span", { i18n: "wall_pin" })),
        this.picker));
    this.video.addEventListener("liveended", () => this.failed("live_failed"));
    this.video.addEventListener("playing", () => {
      if (this.state === "connecting") { this.state = "playing"; this.setStatus(""); }
    });
  }

  // idle | connecting | playing | failed | capped; shown on the tile's node as data-state
  // (the camera shown is its data-camera-id), for styles and for whoever watches the wall.
  get state() { return this.current; }

  set state(value) {
    this.current = value;
    this.node.dataset.state = value;
  }

  // Puts `cameraId` (or nothing) on the tile; an alert's pull passes `pulled`.
  setCamera(cameraId, pulled = false) {
    if (cameraId !== null && !this.cameras.has(cameraId)) cameraId = null;
    const changed = cameraId !== this.cameraId;
    this.cameraId = cameraId;
    this.picker.value = cameraId || "";
    this.node.dataset.cameraId = cameraId || "";
    this.node.classList.toggle("pulled", pulled);
    this.pulled.hidden = !pulled;
    if (!pulled) this.pulledAt = 0;
    const cam = cameraId ? this.cameras.get(cameraId) : null;
    this.name.textContent = cam ? cam.name : "";
    if (cam) this.name.href = `/cameras/${encodeURIComponent(cam.id)}`;
    else this.name.removeAttribute("href");
    this.empty.hidden = Boolean(cam);
    this.showState(cam);
    if (changed) { this.disconnect(); this.sync(); }
  }

  setPinned(pinned) {
    this.pinned = pinned;
    this.pin.checked = pinned;
  }

  // Marks the tile as brought in by `alert` (the most recently pulled is replaced last).
  markPulled(alert) {
    this.pulledAt = Date.now();
    this.node.classList.add("pulled");
    this.pulled.hidden = false;
    this.pulled.replaceChildren(el("span", { i18n: "wall_pulled" }), ` ${formatTime(alert.started_at)}`);
  }

  showState(cam) {
    if (!cam) { this.badge.hidden = true; return; }
    this.badge.hidden = false;
    this.badge.className = `cam-state ${cam.state}`;
    this.badge.dataset.i18n = `state_${cam.state}`;
    this.badge.textContent = t(this.badge.dataset.i18n);
  }

  setStatus(key) {
    if (key) { this.status.dataset.i18n = key; this.status.textContent = t(key); }
    else { delete this.status.dataset.i18n; this.status.textContent = ""; }
  }

  wanted() {
    return Boolean(this.cameraId) && document.visibilityState === "visible" && this.inView;
  }

  // Opens or closes the peer connection to match `wanted()`.
  sync() {
    const wanted = this.wanted();
    if (wanted && this.state === "idle") this.connect();
    else if (!wanted && this.state !== "idle") this.disconnect();
  }

  async connect() {
    const generation = ++this.generation;
    clearTimeout(this.retryTimer);
    const live = new LiveView(this.video, this.cameraId);
    this.live = live;
    this.overlay = new DetectionOverlay(this.canvas, this.video, this.cameraId);
    this.state = "connecting";
    this.setStatus("live_connecting");
    try {
      await live.start();
    } catch (error) {
      if (generation !== this.generation) return;
      this.failed(error.status === 429 ? "wall_tile_cap" : "live_failed", error.status === 429);
      return;
    }
    if (generation !== this.generation) { live.stop(); return; }
    this.overlay.start();
  }

  // Closes the peer connection and the detections socket (the tile keeps its camera).
  disconnect() {
    const held = this.state === "connecting" || this.state === "playing";
    this.generation += 1;
    clearTimeout(this.retryTimer);
    if (this.overlay) this.overlay.stop();
    if (this.live) this.live.stop();
    this.overlay = null;
    this.live = null;
    this.state = "idle";
    this.setStatus(this.cameraId ? "wall_paused" : "");
    if (held) this.events.freed(this);
  }

  failed(key, capped = false) {
    const held = this.state === "playing";
    if (this.overlay) this.overlay.stop();
    if (this.live) this.live.stop();
    this.overlay = null;
    this.live = null;
    this.generation += 1;
    this.state = capped ? "capped" : "failed";
    this.setStatus(key);
    if (held) this.events.freed(this);
    this.retryTimer = setTimeout(() => this.retry(), capped ? TILE_CAP_RETRY_MS : TILE_RETRY_MS);
  }

  // A tile that failed or was refused tries again (when the wall frees a view, or later).
  retry() {
    if (this.state !== "failed" && this.state !== "capped") return;
    this.state = "idle";
    this.sync();
    if (this.state === "idle") this.setStatus(this.cameraId ? "wall_paused" : "");
  }

  // Frames the browser decoded for this tile so far (0 without a peer), for the tests.
  framesDecoded() {
    return this.live ? this.live.framesDecoded() : Promise.resolve(0);
  }
}
