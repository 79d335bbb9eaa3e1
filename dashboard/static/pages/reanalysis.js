// The re-analysis page: queue a job over a camera's recordings or over an uploaded file
// (operators), follow every job's progress (polled each second while one is queued or
// running, every ten seconds otherwise), and read a job's findings as alert cards.

import { addToCaseButton, alertMeta, canReview, showPicture } from "../lib/alerts.js";
import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, notify } from "../lib/dom.js";
import { hasString, t } from "../lib/i18n.js";
import { fillIn, queueRange, refusalText, uploadVideo } from "../lib/jobs.js";
import { formatTime, siteInputSeconds, siteInputValue } from "../lib/time.js";

const ACTIVE = ["queued", "running"];
const PAGE_SIZE = 50;
const MIB = 1024 * 1024;
const Jobs = { selected: null, findingsSig: null, findingIds: new Set(), timer: null, limits: null, oldest: null };

function isActive(job) { return ACTIVE.includes(job.state); }

function showError(text) {
  $("ra-error").textContent = text;
  $("ra-error").hidden = !text;
}

// ---- the list of jobs ------------------------------------------------------------------

function jobSignature(job) {
  return [job.state, job.progress, job.frames, job.alerts, job.cancel_requested, job.detail, job.detail_code, job.end].join("|");
}

function jobSource(job) {
  if (job.source !== "upload") return [el("span", { i18n: "ra_source_recording" })];
  return [el("span", { i18n: "ra_source_upload" }), ": ", el("span", { class: "upload-name" }, job.upload_name || "")];
}

function jobActions(job) {
  const actions = el("div", { class: "actions" },
    el("button", { type: "button", class: "show", i18n: "ra_show_findings", onclick: () => selectJob(job.id) }));
  if (canReview() && isActive(job) && !job.cancel_requested) {
    actions.append(el("button", { type: "button", class: "cancel", i18n: "ra_cancel", onclick: () => cancelJob(job.id) }));
  }
  if (canReview() && !isActive(job)) {
    actions.append(el("button", { type: "button", class: "delete", i18n: "ra_delete", onclick: () => deleteJob(job.id) }));
  }
  return actions;
}

// Why a job failed, went back to the queue or skipped recordings: the case in the user's
// language, then the runner's own words (the technical reason, in English). A done or
// stopped job's counts are on its row already.
function showsDetail(job) {
  return Boolean(job.detail) && (job.state === "failed" || job.state === "queued" || job.detail_code === "skipped");
}

function jobDetail(job) {
  const key = `ra_detail_${job.detail_code}`;
  return el("div", { class: "job-detail" },
    job.detail_code && hasString(key) ? el("span", { i18n: key }) : null, " ",
    el("small", { class: "job-detail-raw" }, job.detail));
}

function renderJob(job) {
  const range = job.end ? `${formatTime(job.start)} – ${formatTime(job.end)}` : formatTime(job.start);
  const row = el("li", {
    class: `job state-${job.state}${job.id === Jobs.selected ? " selected" : ""}`,
    id: `job-${job.id}`, "data-job-id": job.id, "data-state": job.state,
  },
  el("div", { class: "job-head" },
    el("b", {}, `#${job.id}`), " ",
    el("a", { class: "camera", href: `/cameras/${encodeURIComponent(job.camera_id)}` }, job.camera_name),
    " · ", ...jobSource(job), " ",
    el("span", { class: `badge job-state ${job.state}`, i18n: `job_state_${job.state}` })),
  el("div", { class: "job-meta" },
    el("span", { class: "time" }, range), " · ", el("span", { i18n: "ra_by" }), ` ${job.created_by}`),
  el("div", { class: "job-progress-row" },
    el("progress", { class: "job-progress", max: 1, value: job.progress }),
    el("span", { class: "job-percent" }, `${Math.round(job.progress * 100)}%`),
    el("span", { class: "job-frames" }, `${job.frames} `, el("span", { i18n: "ra_frames" })),
    el("span", { class: "job-alerts" }, `${job.alerts} `, el("span", { i18n: "ra_findings_count" })),
    job.cancel_requested && isActive(job) ? el("span", { class: "job-stopping", i18n: "ra_cancel_requested" }) : null),
  showsDetail(job) ? jobDetail(job) : null,
  jobActions(job));
  row.dataset.sig = jobSignature(job);
  return row;
}

// Puts each job of `list` (newest first) in its place: redrawn only when it changed. For
// the newest page, rows in its id range that it no longer holds were deleted elsewhere.
function showJobs(list, newestPage) {
  const node = $("jobs");
  const ids = new Set(list.map((job) => job.id));
  if (newestPage) {
    const floor = list.length ? list[list.length - 1].id : 0;
    node.querySelectorAll("li.job").forEach((row) => {
      const id = Number(row.dataset.jobId);
      if (id >= floor && !ids.has(id)) row.remove();
    });
  }
  list.forEach((job) => {
    const shown = node.querySelector(`li[data-job-id="${job.id}"]`);
    if (shown && shown.dataset.sig === jobSignature(job)) return;
    const row = renderJob(job);
    if (shown) { shown.replaceWith(row); return; }
    const after = [...node.children].find((other) => Number(other.dataset.jobId) < job.id);
    node.insertBefore(row, after || null);
  });
  $("no-jobs").hidden = node.children.length > 0;
  if (Jobs.oldest === null && list.length) Jobs.oldest = list[list.length - 1].id;
  if (!newestPage && list.length) Jobs.oldest = list[list.length - 1].id;
  const selected = list.find((job) => job.id === Jobs.selected);
  if (selected && `${selected.state}|${selected.alerts}` !== Jobs.findingsSig) loadFindings().catch(() => {});
  return list;
}

async function refresh() {
  clearTimeout(Jobs.timer);
  let active = false;
  try {
    const first = Jobs.oldest === null;
    const list = showJobs(await api(`/api/reanalysis/jobs?limit=${PAGE_SIZE}`), true);
    if (first) $("older").hidden = list.length < PAGE_SIZE;
    active = list.some(isActive);
  } catch (error) {
    if (error.status === 401) return;
  }
  Jobs.timer = setTimeout(refresh, active ? 1000 : 10000);
}

async function older() {
  const list = await api(`/api/reanalysis/jobs?limit=${PAGE_SIZE}&before=${Jobs.oldest}`);
  showJobs(list, false);
  $("older").hidden = list.length < PAGE_SIZE;
}

async function cancelJob(id) {
  showError("");
  try { await api(`/api/reanalysis/jobs/${id}/cancel`, { method: "POST" }); } catch (error) { showError(refusalText(error)); }
  refresh();
}

async function deleteJob(id) {
  if (!window.confirm(t("ra_delete_confirm"))) return;
  showError("");
  try {
    await api(`/api/reanalysis/jobs/${id}`, { method: "DELETE" });
    const row = document.querySelector(`li[data-job-id="${id}"]`);
    if (row) row.remove();
    if (Jobs.selected === id) clearFindings();
    notify("ra_deleted", false);
  } catch (error) { showError(refusalText(error)); }
  refresh();
}

// ---- a job's findings ------------------------------------------------------------------

// A finding is drawn like a live alert (same card, same picture dialog), without the
// acknowledge and resolve buttons: it is a result of an investigation, not an event of now.
// An operator may add it to a case.
function renderFinding(finding) {
  return el("li", { class: `alert finding ${finding.severity}`, "data-finding-id": finding.id },
    el("img", { src: finding.snapshot_url, alt: "", loading: "lazy", class: "snapshot", i18nTitle: "enlarge", onclick: () => showPicture(finding) }),
    el("div", { class: "body" },
      el("div", { class: "title" },
        el("a", { class: "camera", href: `/cameras/${encodeURIComponent(finding.camera_id)}` }, finding.camera_name),
        el("span", { class: "badge finding", i18n: "ra_finding" })),
      alertMeta(finding),
      canReview() ? el("div", { class: "actions" }, addToCaseButton("findings", finding.id)) : null));
}

function clearFindings() {
  Jobs.selected = null;
  Jobs.findingsSig = null;
  Jobs.findingIds = new Set();
  $("findings").replaceChildren();
  $("findings-job").textContent = "";
  $("findings-hint").hidden = false;
  $("no-findings").hidden = true;
}

async function loadFindings() {
  const id = Jobs.selected;
  const after = Jobs.findingIds.size ? Math.max(...Jobs.findingIds) : 0;
  const detail = await api(`/api/reanalysis/jobs/${id}?limit=500&after=${after}`);
  if (Jobs.selected !== id) return;
  Jobs.findingsSig = `${detail.job.state}|${detail.job.alerts}`;
  $("findings-job").textContent = `#${id} · ${detail.job.camera_name}`;
  $("findings-hint").hidden = true;
  const fresh = detail.findings.filter((finding) => !Jobs.findingIds.has(finding.id));
  fresh.forEach((finding) => Jobs.findingIds.add(finding.id));
  $("findings").append(...fresh.map(renderFinding));
  $("no-findings").hidden = Jobs.findingIds.size > 0 || isActive(detail.job);
}

function selectJob(id) {
  clearFindings();
  Jobs.selected = id;
  history.replaceState(null, "", `#job-${id}`);
  document.querySelectorAll("li.job").forEach((row) => row.classList.toggle("selected", Number(row.dataset.jobId) === id));
  loadFindings().catch((error) => showError(refusalText(error)));
}

// ---- the forms -------------------------------------------------------------------------

function inputTime(input) {
  return siteInputSeconds(input.value);
}

async function queued(job) {
  notify("ra_queued", false);
  await refresh();
  selectJob(job.id);
}

async function submitRange(event) {
  event.preventDefault();
  showError("");
  try {
    await queued(await queueRange($("ra-camera").value, inputTime($("ra-from")), inputTime($("ra-to"))));
  } catch (error) { showError(refusalText(error)); }
}

async function submitUpload(event) {
  event.preventDefault();
  showError("");
  const file = $("up-file").files[0];
  if (!file) { showError(t("ra_error_no_file")); return; }
  if (file.size > Jobs.limits.max_upload_mb * MIB) {
    showError(fillIn(t("ra_error_too_large"), { max_mb: Jobs.limits.max_upload_mb }));
    return;
  }
  const status = $("up-status");
  const setStatus = (key) => { status.dataset.i18n = key; status.textContent = t(key); };
  $("up-progress-row").hidden = false;
  $("up-progress").value = 0;
  setStatus("ra_uploading");
  $("up-submit").disabled = true;
  try {
    const job = await uploadVideo(file, $("up-camera").value, inputTime($("up-at")), (fraction) => {
      $("up-progress").value = fraction;
      if (fraction >= 1) setStatus("ra_checking");
    });
    $("up-file").value = "";
    showChosenFile();
    $("up-progress-row").hidden = true;
    await queued(job);
  } catch (error) {
    $("up-progress-row").hidden = true;
    showError(refusalText(error));
  } finally {
    $("up-submit").disabled = false;
  }
}

// The file input's own button speaks the browser's language, so it is hidden behind a
// label that speaks the user's; the chosen file's name is shown beside it.
function showChosenFile() {
  const file = $("up-file").files[0];
  const name = $("up-file-name");
  if (file) { delete name.dataset.i18n; name.textContent = file.name; }
  else { name.dataset.i18n = "ra_no_file_chosen"; name.textContent = t("ra_no_file_chosen"); }
}

async function setUpForms() {
  const limits = await api("/api/reanalysis/limits");
  Jobs.limits = limits;
  $("ra-limits").replaceChildren(
    el("span", { i18n: "ra_max_upload" }), ` ${limits.max_upload_mb} MB · `,
    el("span", { i18n: "ra_max_range" }), ` ${limits.max_range_h} h`);
  if (!canReview()) return;
  if (!limits.enabled) { $("ra-disabled").hidden = false; return; }
  const cameras = await api("/api/cameras");
  const wanted = new URLSearchParams(location.search).get("camera");
  ["ra-camera", "up-camera"].forEach((id) => {
    $(id).replaceChildren(...cameras.map((cam) => el("option", { value: cam.id, selected: cam.id === wanted }, `${cam.name} · ${cam.area}`)));
  });
  const now = Date.now() / 1000;
  $("ra-from").value = siteInputValue(now - 3600);
  $("ra-to").value = siteInputValue(now);
  $("ra-range-form").addEventListener("submit", submitRange);
  $("ra-upload-form").addEventListener("submit", submitUpload);
  $("up-file").addEventListener("change", showChosenFile);
  $("ra-forms").hidden = false;
}

async function initReanalysis() {
  $("older").addEventListener("click", () => older().catch((e) => notify(errorKey(e))));
  await setUpForms();
  await refresh();
  const linked = /^#job-(\d+)$/.exec(location.hash);
  if (linked) selectJob(Number(linked[1]));
}

boot("reanalysis", initReanalysis);
