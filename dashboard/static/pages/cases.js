// The cases page: the list of cases the user may see (open, closed or all), and one case
// opened beside it (/cases#ID): its alerts, findings and clips, notes, who has it, its
// packages and history. Operators and admins open cases, add clips and notes, hand a case
// over, close or reopen it and export it; viewers read. While a package is being built the
// case is asked for again every 1.5 s until it is done.

import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, label } from "../lib/dom.js";
import { hasString, t } from "../lib/i18n.js";
import { M } from "../lib/session.js";
import { formatTime, siteInputSeconds, siteInputValue } from "../lib/time.js";

const Cases = { current: null, cameras: [], timer: null, assigneesOf: null };

function canChange() { return M.me.role === "operator" || M.me.role === "admin"; }

// A refusal in the user's language: `case_error_<code>` with its facts filled in, else the
// server's own message, else the general sentence for the status.
function caseErrorText(error) {
  const detail = error && error.detail;
  if (detail && typeof detail === "object" && !Array.isArray(detail) && detail.code) {
    const key = `case_error_${detail.code}`;
    if (!hasString(key)) return detail.message;
    return t(key).replace(/\{(\w+)\}/g, (whole, name) => (detail[name] !== undefined ? String(detail[name]) : whole));
  }
  return t(error && error.status !== undefined ? errorKey(error) : "error_generic");
}

function showError(error) {
  $("case-error").textContent = error ? caseErrorText(error) : "";
  $("case-error").hidden = !error;
}

// Runs a change of the open case and shows the case as the server answers it.
async function change(path, options) {
  try {
    const detail = await api(path, options);
    showError(null);
    renderCase(detail);
    await loadList();
    return true;
  } catch (error) {
    showError(error);
    return false;
  }
}

// ---- the list ---------------------------------------------------------------------------

async function loadList() {
  const state = $("case-filter").value;
  const found = await api(`/api/cases${state ? `?state=${state}` : ""}`);
  $("no-cases").hidden = found.length > 0;
  $("cases").replaceChildren(...found.map((item) => el("li", {
    class: `case-row state-${item.state}${Cases.current && item.id === Cases.current.case.id ? " selected" : ""}`,
    "data-case-id": item.id,
    onclick: () => { location.hash = String(item.id); },
  },
  el("div", { class: "case-row-title" }, el("b", {}, `#${item.id}`), " ", item.title),
  el("div", { class: "hint" },
    el("span", { class: `badge case-state ${item.state}`, i18n: `case_state_${item.state}` }), " ",
    el("span", { i18n: "case_assigned_to" }), `: ${item.assigned_to || "—"} · `,
    el("span", { class: "time" }, formatTime(item.updated_at))))));
}

// ---- one case ----------------------------------------------------------------------------

async function openCase(id) {
  try {
    renderCase(await api(`/api/cases/${id}`));
    showError(null);
  } catch (error) {
    Cases.current = null;
    $("case").hidden = true;
    $("case-hint").hidden = false;
    showError(error);
  }
}

function removeButton(path) {
  if (!canChange() || Cases.current.case.state !== "open") return null;
  return el("button", { type: "button", class: "link remove", i18n: "case_remove",
    onclick: () => { Cases.assigneesOf = null; return change(path, { method: "DELETE" }); } });
}

function pictureItem(card, kind, path) {
  return el("li", { class: `case-item ${kind}`, "data-id": card.id },
    el("img", { src: card.snapshot_url, alt: "", loading: "lazy", class: "case-snapshot" }),
    el("div", {},
      el("span", { class: "badge", i18n: `case_item_${kind}` }), " ",
      el("a", { href: `/cameras/${encodeURIComponent(card.camera_id)}` }, card.camera_name), " · ",
      el("span", { class: "time" }, formatTime(card.started_at)), el("br"),
      label("kind", card.kind), ...(card.class_name ? [" · ", label("class", card.class_name)] : [])),
    removeButton(path));
}

function clipItem(clip) {
  const base = `/api/cases/${Cases.current.case.id}`;
  return el("li", { class: "case-item clip", "data-id": clip.id },
    el("div", {},
      el("a", { href: `/cameras/${encodeURIComponent(clip.camera_id)}` }, clip.camera_name), " · ",
      el("span", { class: "time" }, `${formatTime(clip.start)} – ${formatTime(clip.end)}`), el("br"),
      el("span", { class: "hint" }, el("span", { i18n: "case_added_by" }), ` ${clip.added_by}`)),
    removeButton(`${base}/clips/${clip.id}`));
}

function noteItem(note) {
  return el("li", { class: `case-note kind-${note.kind}` },
    el("div", { class: "hint" }, el("b", {}, note.author), " · ",
      el("span", { class: "time" }, formatTime(note.at)), " ",
      note.kind !== "note" ? el("span", { class: "badge", i18n: `case_note_${note.kind}` }) : null),
    el("p", {}, note.text));
}

function sizeText(bytes) {
  return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} kB`;
}

function exportItem(pack) {
  const done = pack.state === "done";
  return el("li", { class: `case-item export state-${pack.state}`, "data-id": pack.id },
    el("div", {},
      el("span", { class: "badge", i18n: `case_export_${pack.state}` }), " ",
      el("span", { class: "time" }, formatTime(pack.requested_at)), ` · ${pack.requested_by} · `,
      el("q", {}, pack.reason), el("br"),
      done ? el("a", { class: "download", href: pack.zip_url, i18n: "case_download" }) : null,
      done ? el("span", { class: "hint" }, ` ${sizeText(pack.bytes)} · SHA-256 ${pack.sha256.slice(0, 16)}…`) : null,
      pack.state === "failed" ? el("span", { class: "error-text" }, pack.detail) : null));
}

// What a history row says besides its action: the title, the note, the camera and window,
// who handed over to whom, why a package was made.
function historyFacts(detail) {
  const facts = [];
  if (detail.from !== undefined && detail.to !== undefined && typeof detail.from === "string") {
    facts.push(`${detail.from || "—"} → ${detail.to}`);
  } else if (detail.camera) {
    facts.push(detail.from !== undefined ? `${detail.camera} ${formatTime(detail.from)} – ${formatTime(detail.to)}` : detail.camera);
  }
  ["title", "note", "reason"].forEach((key) => { if (detail[key]) facts.push(`“${detail[key]}”`); });
  return facts.join(" · ");
}

function historyItem(row) {
  return el("li", {},
    el("span", { class: "time" }, formatTime(row.at)), " ", el("b", {}, row.actor), " ",
    el("span", { i18n: `action_${row.action.replace(".", "_")}` }), " ",
    el("span", { class: "hint" }, historyFacts(row.detail)));
}

function renderCase(detail) {
  const item = detail.case;
  const open = item.state === "open";
  Cases.current = detail;
  $("case-hint").hidden = true;
  $("case").hidden = false;
  $("case-number").textContent = `#${item.id}`;
  $("case-title").textContent = item.title;
  const badge = $("case-state");
  badge.className = `badge case-state ${item.state}`;
  badge.dataset.i18n = `case_state_${item.state}`;
  badge.textContent = t(badge.dataset.i18n);
  $("case-description").textContent = item.description;
  $("case-assignee").textContent = item.assigned_to || "—";
  $("case-created").textContent = `${item.created_by} · ${formatTime(item.created_at)}`;
  $("case-updated").textContent = formatTime(item.updated_at);
  const base = `/api/cases/${item.id}`;
  const cards = [
    ...detail.alerts.map((card) => pictureItem(card, "alert", `${base}/alerts/${card.id}`)),
    ...detail.findings.map((card) => pictureItem(card, "finding", `${base}/findings/${card.id}`)),
  ];
  $("case-alerts").replaceChildren(...cards);
  $("no-case-alerts").hidden = cards.length > 0;
  $("case-clips").replaceChildren(...detail.clips.map(clipItem));
  $("no-case-clips").hidden = detail.clips.length > 0;
  $("case-notes").replaceChildren(...detail.notes.map(noteItem));
  $("case-exports").replaceChildren(...detail.exports.map(exportItem));
  $("case-history").replaceChildren(...detail.history.map(historyItem));
  const changing = canChange();
  $("case-actions").hidden = !changing;
  ["clip-form", "note-form", "assign-form"].forEach((id) => { $(id).hidden = !changing || !open; });
  $("export-form").hidden = !changing;
  const stateButton = $("state-submit");
  stateButton.dataset.i18n = open ? "case_close" : "case_reopen";
  stateButton.textContent = t(stateButton.dataset.i18n);
  document.querySelectorAll("#cases .case-row").forEach((row) => {
    row.classList.toggle("selected", Number(row.dataset.caseId) === item.id);
  });
  if (changing && open && Cases.assigneesOf !== item.id) fillAssignees(item);
  clearTimeout(Cases.timer);
  if (detail.exports.some((pack) => pack.state === "running")) {
    Cases.timer = setTimeout(() => openCase(item.id), 1500);
  }
}

// Who may take the case, asked for when a case is opened and after a clip changed its
// cameras (not at every redraw: that would undo a choice being made in the list).
async function fillAssignees(item) {
  Cases.assigneesOf = item.id;
  const names = await api(`/api/cases/${item.id}/assignees`);
  $("assign-user").replaceChildren(...names.map((name) =>
    el("option", { value: name, selected: name === item.assigned_to }, name)));
}

// ---- the forms ---------------------------------------------------------------------------

function onSubmit(id, handler) {
  $(id).addEventListener("submit", async (event) => {
    event.preventDefault();
    await handler();
  });
}

function caseBase() { return `/api/cases/${Cases.current.case.id}`; }

function wireForms() {
  onSubmit("new-case", async () => {
    try {
      const body = { title: $("new-case-title").value.trim(), description: $("new-case-description").value.trim() };
      const made = await api("/api/cases", { method: "POST", body });
      $("new-case").reset();
      location.hash = String(made.case.id);
      await loadList();
    } catch (error) { showError(error); }
  });
  onSubmit("note-form", async () => {
    const body = { text: $("note-text").value.trim() };
    if (await change(`${caseBase()}/notes`, { method: "POST", body })) $("note-text").value = "";
  });
  onSubmit("assign-form", async () => {
    const body = { username: $("assign-user").value, note: $("assign-note").value.trim() };
    if (await change(`${caseBase()}/assign`, { method: "POST", body })) $("assign-note").value = "";
  });
  onSubmit("state-form", async () => {
    const state = Cases.current.case.state === "open" ? "closed" : "open";
    const body = { state, note: $("state-note").value.trim() };
    if (await change(caseBase(), { method: "PATCH", body })) $("state-note").value = "";
  });
  onSubmit("clip-form", async () => {
    const start = siteInputSeconds($("clip-from").value);
    const end = siteInputSeconds($("clip-to").value);
    if (start === null || end === null) { showError({ status: 422 }); return; }
    Cases.assigneesOf = null;
    await change(`${caseBase()}/clips`, { method: "POST", body: { camera_id: $("clip-camera").value, start, end } });
  });
  onSubmit("export-form", async () => {
    try {
      await api(`${caseBase()}/exports`, { method: "POST", body: { reason: $("export-reason").value.trim() } });
      $("export-reason").value = "";
      await openCase(Cases.current.case.id);
    } catch (error) { showError(error); }
  });
}

async function initCases() {
  $("new-case").hidden = !canChange();
  const now = Date.now() / 1000;
  $("clip-from").value = siteInputValue(Math.floor(now / 60) * 60 - 600);
  $("clip-to").value = siteInputValue(Math.floor(now / 60) * 60);
  Cases.cameras = await api("/api/cameras");
  $("clip-camera").replaceChildren(...Cases.cameras.map((camera) =>
    el("option", { value: camera.id }, `${camera.name} (${camera.area})`)));
  $("case-filter").addEventListener("change", loadList);
  wireForms();
  window.addEventListener("hashchange", () => openCase(location.hash.slice(1)));
  await loadList();
  if (/^#\d+$/.test(location.hash)) await openCase(location.hash.slice(1));
}

boot("cases", initCases);
