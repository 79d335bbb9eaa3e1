// The audit log for admins: newest first, 100 rows a page, facts shown in the reader's
// language (role, areas, note...).

import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, label, notify } from "../lib/dom.js";
import { formatTime } from "../lib/time.js";

const PAGE_SIZE = 100;
let oldest = null;

function factValue(key, value) {
  if (key === "role") return el("span", { i18n: `role_${value}` });
  if (key === "min_severity") return label("severity", value);
  if ((key === "from" || key === "to") && typeof value === "number") return formatTime(value);
  if (key === "areas") return value.length ? value.join(", ") : el("span", { i18n: "all_areas" });
  if (typeof value === "boolean") return el("span", { i18n: value ? "yes" : "no" });
  return String(value);
}

function renderDetail(detail) {
  return el("span", { class: "facts" }, ...Object.entries(detail)
    .filter(([key, value]) => !(key === "note" && !value))
    .map(([key, value]) => el("span", { class: "fact" }, el("span", { i18n: `detail_${key}` }), ": ", factValue(key, value))));
}

function targetText(entry) {
  const alert = /^alert (\d+)$/.exec(entry.target);
  if (alert) return el("span", {}, el("span", { i18n: "target_alert" }), ` #${alert[1]}`);
  return entry.target || "—";
}

function row(entry) {
  return el("tr", { "data-action": entry.action, "data-audit-id": entry.id },
    el("td", { class: "time" }, formatTime(entry.at)),
    el("td", {}, entry.actor === "system" || entry.actor === "cli" ? el("span", { i18n: `actor_${entry.actor}` }) : entry.actor || "—"),
    el("td", {}, el("span", { class: `act act-${entry.action.split(".")[0]}`, i18n: `action_${entry.action.replace(".", "_")}` })),
    el("td", {}, targetText(entry)),
    el("td", {}, renderDetail(entry.detail)),
    el("td", { class: "address" }, entry.address || "—"));
}

async function loadPage() {
  const query = new URLSearchParams({ limit: PAGE_SIZE });
  if (oldest !== null) query.set("before", oldest);
  const entries = await api(`/api/audit?${query}`);
  $("audit").append(...entries.map(row));
  if (entries.length) oldest = entries[entries.length - 1].id;
  $("older").hidden = entries.length < PAGE_SIZE;
}

// Legal holds in force, each with a lift button that asks why (both audited).
function holdRow(hold) {
  const reason = el("input", { type: "text", minlength: "3", maxlength: "500", i18nPlaceholder: "hold_lift_reason" });
  const lift = el("button", { type: "button", i18n: "hold_lift", "data-hold-id": hold.id, onclick: async () => {
    try {
      await api(`/api/holds/${hold.id}/lift`, { method: "POST", body: { reason: reason.value } });
      notify("hold_lifted", false);
      await loadHolds();
    } catch (error) {
      notify(errorKey(error));
    }
  } });
  return el("tr", { "data-hold-id": hold.id },
    el("td", {}, hold.camera_id),
    el("td", { class: "time" }, formatTime(hold.start)),
    el("td", { class: "time" }, formatTime(hold.end)),
    el("td", {}, hold.reason),
    el("td", {}, hold.created_by),
    el("td", {}, reason, " ", lift));
}

async function loadHolds() {
  const holds = await api("/api/holds");
  $("holds").replaceChildren(...holds.map(holdRow));
  $("holds-none").hidden = holds.length > 0;
}

async function initAudit() {
  $("older").addEventListener("click", () => loadPage().catch((e) => notify(errorKey(e))));
  await Promise.all([loadPage(), loadHolds()]);
}

boot("audit", initAudit);
