// One camera: its state, its latest picture and its alerts (live, with history pages).

import { AlertList, beep, connectFeed, latestAlertId, muteButton } from "../lib/alerts.js";
import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, notify } from "../lib/dom.js";
import { t } from "../lib/i18n.js";
import { expose } from "../lib/inspect.js";
import { LiveView } from "../lib/live.js";
import { DetectionOverlay } from "../lib/overlay.js";
import { Replay, setUpExport, setUpReanalyse } from "../lib/replay.js";
import { formatTime } from "../lib/time.js";

const cameraId = decodeURIComponent(location.pathname.split("/")[2] || "");

function showState(cam) {
  const badge = $("camera-state");
  badge.className = `cam-state ${cam.state}`;
  badge.dataset.i18n = `state_${cam.state}`;
  badge.textContent = t(badge.dataset.i18n);
}

// How much of the stream ingest decodes: every frame, or keyframes only while the camera is
// idle (no motion for a while); "—" while the camera is not online.
function showDecode(cam) {
  const mode = $("camera-decode");
  if (cam.decode) {
    mode.dataset.i18n = `decode_${cam.decode}`;
    mode.textContent = t(mode.dataset.i18n);
  } else {
    delete mode.dataset.i18n;
    mode.textContent = "—";
  }
}

function showCamera(cam) {
  $("camera-name").textContent = cam.name;
  $("camera-area").textContent = cam.area;
  showState(cam);
  $("camera-since").textContent = cam.state_since ? formatTime(cam.state_since) : "—";
  $("camera-detail").textContent = cam.detail || "—";
  showDecode(cam);
  $("camera-rules").textContent = cam.rules.join(", ") || "—";
  const thumb = $("camera-thumb");
  const picture = $("camera-picture");
  picture.onload = () => thumb.classList.remove("missing");
  picture.onerror = () => thumb.classList.add("missing");
  picture.src = `${cam.thumbnail_url}?v=${Date.now()}`;
}

async function initCamera() {
  let cam;
  try {
    cam = await api(`/api/cameras/${encodeURIComponent(cameraId)}`);
  } catch (error) {
    $("camera-name").dataset.i18n = errorKey(error);
    $("camera-name").textContent = t(errorKey(error));
    return;
  }
  showCamera(cam);
  setUpLive();
  const replay = new Replay(cameraId);
  expose("replay", replay);
  const moment = Number(new URLSearchParams(location.search).get("at"));  // ?at=EPOCH: replay it
  (moment > 0 ? replay.openAt(moment) : replay.load()).catch((e) => notify(errorKey(e)));
  setInterval(() => replay.load().catch(() => {}), 30000);
  setUpExport(cameraId);
  setUpReanalyse(replay);
  $("sound-slot").append(muteButton());
  const list = new AlertList($("alerts"), () => ({ camera: cameraId }));
  $("alerts").addEventListener("changed", (event) => {
    $("alert-count").textContent = event.detail.unhandled;
    $("alert-count").classList.toggle("zero", event.detail.unhandled === 0);
    $("no-alerts").hidden = event.detail.shown > 0;
  });
  $("alerts").addEventListener("page", (event) => { $("older").hidden = !event.detail.more; });
  $("older").addEventListener("click", () => list.older().catch((e) => notify(errorKey(e))));
  const after = await latestAlertId();
  await list.load();
  connectFeed(after, (alert, isNew) => {
    if (list.upsert(alert, isNew)) { beep(alert.severity); $("camera-picture").src = `${cam.thumbnail_url}?v=${alert.id}`; }
  }, () => list.load());
  setInterval(() => api(`/api/cameras/${encodeURIComponent(cameraId)}`)
    .then((cam) => { showState(cam); showDecode(cam); }).catch((e) => notify(errorKey(e))), 10000);
}

// The live picture replaces the thumbnail while it plays, with the detections drawn over it
// unless the operator turns them off.
function setUpLive() {
  const video = $("live-video");
  const live = new LiveView(video, cameraId);
  expose("live", live);
  const overlay = new DetectionOverlay($("live-overlay"), video, cameraId);
  expose("overlay", overlay);
  const showBoxes = $("overlay-toggle");
  showBoxes.addEventListener("change", () => {
    if (showBoxes.checked && live.peer) overlay.start();
    else overlay.stop();
  });
  const button = $("live-toggle");
  const status = $("live-status");
  const setLabel = (key) => { button.dataset.i18n = key; button.textContent = t(key); };
  const setStatus = (key) => { status.dataset.i18n = key; status.textContent = key ? t(key) : ""; };
  const stop = () => {
    overlay.stop();
    live.stop();
    video.hidden = true;
    $("camera-thumb").hidden = false;
    setLabel("live_start");
    setStatus("");
  };
  video.addEventListener("liveended", () => { stop(); setStatus("live_failed"); });
  button.addEventListener("click", async () => {
    if (live.peer) { stop(); return; }
    setLabel("live_stop");
    setStatus("live_connecting");
    video.hidden = false;
    $("camera-thumb").hidden = true;
    try {
      await live.start();
      if (showBoxes.checked) overlay.start();
      video.addEventListener("playing", () => setStatus(""), { once: true });
    } catch (error) {
      stop();
      setStatus(error.status === 429 ? "live_too_many" : "live_failed");  // the live view caps
    }
  });
  window.addEventListener("pagehide", () => { overlay.stop(); live.stop(); });
}

boot("cameras", initCamera);
