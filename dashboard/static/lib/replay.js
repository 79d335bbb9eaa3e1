// Replay and evidence export on the camera page: a timeline of what was recorded (and
// the gaps, and the alerts), click to play from that moment, and (operators) export a
// window as MP4 files with a SHA-256 manifest.

import { api, errorKey } from "./api.js";
import { $, el, notify } from "./dom.js";
import { queueRange, refusalText } from "./jobs.js";
import { M } from "./session.js";
import { formatTime, siteInputSeconds, siteInputValue } from "./time.js";

export class Replay {
  constructor(cameraId) {
    this.cameraId = cameraId;
    this.video = $("replay-video");
    this.bar = $("timeline");
    this.hours = 1;
    this.current = null;
    this.moment = null;  // the moment a link asked for (/cameras/ID?at=EPOCH), marked on the timeline
    this.fixedEnd = null;  // the timeline ends now, or here for a moment older than the widest range
    this.video.addEventListener("ended", () => { if (this.current) this.playAt(this.current.end + 0.05); });
    this.bar.addEventListener("click", (event) => {
      if (event.target.dataset.alertId) return;
      const box = this.bar.getBoundingClientRect();
      this.playAt(this.start + ((event.clientX - box.left) / box.width) * (this.end - this.start));
    });
    document.querySelectorAll("[data-hours]").forEach((button) => button.addEventListener("click", () => {
      this.hours = Number(button.dataset.hours);
      this.fixedEnd = null;
      this.load();
    }));
  }

  async load() {
    this.end = this.fixedEnd ?? Date.now() / 1000;
    this.start = this.end - this.hours * 3600;
    const path = `/api/cameras/${encodeURIComponent(this.cameraId)}/timeline?start=${this.start}&end=${this.end}`;
    const timeline = await api(path);
    const span = this.end - this.start;
    const place = (from, to) => {
      const left = Math.max(0, (from - this.start) / span) * 100;
      const right = Math.min(1, ((to ?? this.end) - this.start) / span) * 100;
      // Through the CSSOM (node.style), not a style attribute: the page's CSP blocks those.
      return { left: `${left}%`, width: `max(2px, ${right - left}%)` };
    };
    this.bar.replaceChildren(
      ...timeline.segments.map((s) => el("span", { class: "tl-rec", style: place(s.start, s.end) })),
      ...timeline.gaps.map((g) => el("span", { class: "tl-gap", style: place(g.start, g.end), title: g.cause })),
      ...timeline.alerts.map((a) => el("span", {
        class: "tl-alert", style: { left: `${((a.at - this.start) / span) * 100}%` }, "data-alert-id": a.id,
        title: `${formatTime(a.at)} · ${a.rule}`, onclick: () => this.playClip(a.id),
      })),
      ...(this.moment !== null && this.moment >= this.start ? [el("span", {
        class: "tl-moment", id: "timeline-moment", style: { left: `${((this.moment - this.start) / span) * 100}%` },
        title: formatTime(this.moment),
      })] : []));
    $("timeline-from").textContent = formatTime(this.start);
    $("timeline-to").textContent = formatTime(this.end);
    $("replay-empty").hidden = timeline.segments.length > 0;
  }

  // Opens the replay at `at` (a link from the plates page): a range wide enough to hold it,
  // the moment marked on the timeline, and the recording playing from there.
  async openAt(at) {
    const age = Date.now() / 1000 - at;
    this.moment = at;
    this.hours = Math.max(1, Math.ceil(age / 3600 + 0.05));
    if (this.hours > 47) { this.hours = 2; this.fixedEnd = at + 3600; }  // the server gives 2 days at most
    await this.load();
    this.bar.scrollIntoView({ block: "center" });
    await this.playAt(at);
  }

  async playAt(at) {
    try {
      const found = await api(`/api/cameras/${encodeURIComponent(this.cameraId)}/playback?at=${at}`);
      this.current = found;
      this.video.src = found.url;
      this.video.onloadedmetadata = () => { this.video.currentTime = found.offset_s; this.video.play().catch(() => {}); };
      $("replay-at").textContent = formatTime(found.start + found.offset_s);
    } catch (error) {
      notify(error.status === 404 ? "replay_nothing" : errorKey(error));
    }
  }

  playClip(alertId) {
    this.current = null;
    this.video.onloadedmetadata = () => this.video.play().catch(() => {});
    this.video.src = `/api/alerts/${alertId}/clip.mp4`;
    $("replay-at").textContent = `#${alertId}`;
  }
}

export function setUpExport(cameraId) {
  const form = $("export-form");
  if (M.me.role === "viewer") { form.hidden = true; return; }
  const now = Date.now() / 1000;
  $("export-from").value = siteInputValue(now - 120);
  $("export-to").value = siteInputValue(now - 10);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      camera_ids: [cameraId],
      start: siteInputSeconds($("export-from").value),
      end: siteInputSeconds($("export-to").value),
      reason: $("export-reason").value,
    };
    try {
      const done = await api("/api/exports", { method: "POST", body });
      $("export-result").replaceChildren(
        el("p", { i18n: "export_done" }),
        el("ul", {}, ...done.files.map((f) => el("li", {},
          el("a", { href: f.url, download: f.name }, f.name), ` · SHA-256 `, el("code", {}, f.sha256)))),
        el("a", { href: done.manifest_url, download: "manifest.json", id: "export-manifest" }, "manifest.json"), " · ",
        el("a", { href: done.zip_url, id: "export-zip", i18n: "export_download_all" }));
    } catch (error) {
      notify(error.status === 404 ? "replay_nothing" : errorKey(error));
    }
  });
}

// "Re-analyse this range" (operators): the timeline's current range becomes a re-analysis
// job, with a link to follow it on the re-analysis page.
export function setUpReanalyse(replay) {
  if (M.me.role === "viewer") return;
  const result = $("reanalyse-result");
  $("reanalyse").hidden = false;
  $("reanalyse-range").addEventListener("click", async () => {
    result.className = "";
    result.replaceChildren();
    try {
      const job = await queueRange(replay.cameraId, replay.start, Math.min(replay.end, Date.now() / 1000));
      result.replaceChildren(`#${job.id} · `,
        el("a", { id: "reanalyse-link", href: `/reanalysis#job-${job.id}`, i18n: "ra_open_page" }));
    } catch (error) {
      result.className = "error-text";
      result.textContent = refusalText(error);
    }
  });
}
