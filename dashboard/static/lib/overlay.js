// Live detections: the tracked boxes of each analysed frame, drawn on a canvas over the live
// video. The boxes come over a WebSocket in the pixels of the analysed frame (same aspect as
// the video, another size) and are scaled to where the picture is shown inside the <video>
// element (object-fit leaves bars around it). Boxes older than a second are cleared.

import { api } from "./api.js";
import { hasString, t } from "./i18n.js";

const OVERLAY_KEEP_MS = 1000;
const OVERLAY_RETRY_MS = 2000;
const OVERLAY_COLOURS = { person: "#3ddc84", car: "#ffb020", truck: "#ffb020", bus: "#ffb020", motorcycle: "#4fc3f7", bicycle: "#4fc3f7" };

export class DetectionOverlay {
  constructor(canvas, video, cameraId) {
    this.canvas = canvas;
    this.video = video;
    this.cameraId = cameraId;
    this.socket = null;
    this.running = false;
    this.frame = null;
    this.frameAt = 0;
    this.timer = null;
    this.framesReceived = 0; // for the page and the tests
    this.boxesDrawn = 0;
    this.resize = new ResizeObserver(() => this.draw());
  }

  start() {
    this.stop();
    this.running = true;
    this.canvas.hidden = false;
    this.resize.observe(this.video);
    this.timer = setInterval(() => {
      if (this.frame && performance.now() - this.frameAt > OVERLAY_KEEP_MS) { this.frame = null; this.draw(); }
    }, 250);
    this.connect();
  }

  stop() {
    this.running = false;
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close();
    clearInterval(this.timer);
    this.timer = null;
    this.resize.disconnect();
    this.frame = null;
    this.draw();
    this.canvas.hidden = true;
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const path = `/ws/cameras/${encodeURIComponent(this.cameraId)}/detections`;
    const socket = new WebSocket(`${scheme}://${location.host}${path}`);
    this.socket = socket;
    socket.onmessage = (event) => {
      this.frame = JSON.parse(event.data);
      this.frameAt = performance.now();
      this.framesReceived += 1;
      this.draw();
    };
    socket.onclose = () => {
      if (this.socket !== socket || !this.running) return;
      this.socket = null;
      // Closed by the server: if the session ended, api() goes to the login page.
      api("/api/me").catch(() => {}).finally(() => setTimeout(() => {
        if (this.running && !this.socket) this.connect();
      }, OVERLAY_RETRY_MS));
    };
  }

  // Where the picture is drawn inside the element, in CSS pixels (object-position centred).
  pictureRect(width, height) {
    const box = { w: this.video.clientWidth, h: this.video.clientHeight };
    const vw = this.video.videoWidth || width;
    const vh = this.video.videoHeight || height;
    const fit = getComputedStyle(this.video).objectFit;
    let w = box.w;
    let h = box.h;
    if (fit !== "fill" && vw > 0 && vh > 0) {
      let scale = fit === "cover" ? Math.max(box.w / vw, box.h / vh) : Math.min(box.w / vw, box.h / vh);
      if (fit === "none") scale = 1;
      if (fit === "scale-down") scale = Math.min(scale, 1);
      w = vw * scale;
      h = vh * scale;
    }
    return { x: (box.w - w) / 2, y: (box.h - h) / 2, w, h, boxW: box.w, boxH: box.h };
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.video.clientWidth;
    const height = this.video.clientHeight;
    const canvas = this.canvas;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const context = canvas.getContext("2d");
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    context.clearRect(0, 0, width, height);
    const frame = this.frame;
    if (!frame || !frame.width || !frame.height || !width || !height) return;
    const rect = this.pictureRect(frame.width, frame.height);
    const sx = rect.w / frame.width;
    const sy = rect.h / frame.height;
    context.save();
    context.beginPath();
    context.rect(Math.max(0, rect.x), Math.max(0, rect.y), Math.min(rect.w, rect.boxW), Math.min(rect.h, rect.boxH));
    context.clip();
    context.lineWidth = 2;
    context.font = "12px sans-serif";
    context.textBaseline = "top";
    frame.boxes.forEach((box) => {
      const x = rect.x + box.x1 * sx;
      const y = rect.y + box.y1 * sy;
      const w = (box.x2 - box.x1) * sx;
      const h = (box.y2 - box.y1) * sy;
      const colour = OVERLAY_COLOURS[box.class_name] || "#ff6bcb";
      context.strokeStyle = colour;
      context.strokeRect(x, y, w, h);
      const text = this.label(box);
      const textW = context.measureText(text).width + 6;
      const textY = y >= rect.y + 16 ? y - 16 : y;
      context.fillStyle = colour;
      context.fillRect(x - 1, textY, textW, 16);
      context.fillStyle = "#000";
      context.fillText(text, x + 2, textY + 2);
      this.boxesDrawn += 1;
    });
    context.restore();
  }

  // "Người #12 0.87": the class in the user's language, the track and the score.
  label(box) {
    const key = `class_${box.class_name}`;
    const name = hasString(key) ? t(key) : box.class_name;
    const track = box.track_id === null || box.track_id === undefined ? "" : ` #${box.track_id}`;
    return `${name}${track} ${Number(box.confidence).toFixed(2)}`;
  }
}
