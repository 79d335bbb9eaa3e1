// Users, for admins: role, areas (none chosen = every camera), enabled, new password;
// each change is saved at once and written to the audit log by the server.

import { api, errorKey } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, notify } from "../lib/dom.js";
import { hasString } from "../lib/i18n.js";
import { M } from "../lib/session.js";

const ROLES = ["viewer", "operator", "admin"];
let AREAS = [];

function roleSelect(selected) {
  return el("select", { class: "role" }, ...ROLES.map((role) =>
    el("option", { value: role, selected: role === selected, i18n: `role_${role}` })));
}

function areaSelect(selected) {
  return el("select", { class: "areas", multiple: true, size: Math.min(AREAS.length, 4), i18nTitle: "areas_hint" }, ...AREAS.map((area) =>
    el("option", { value: area, selected: selected.includes(area) }, area)));
}

const chosen = (select) => [...select.selectedOptions].map((opt) => opt.value);

// A refused password comes with a code (password_short, password_common,
// password_username) that has a sentence of its own.
function userErrorKey(error) {
  const code = error.detail && error.detail.code;
  return code && hasString(`error_${code}`) ? `error_${code}` : errorKey(error);
}

async function change(username, body) {
  try {
    await api(`/api/users/${encodeURIComponent(username)}`, { method: "PATCH", body });
    notify("saved", false);
  } catch (error) {
    notify(userErrorKey(error));
  }
  await loadUsers();
}

function row(user) {
  const role = roleSelect(user.role);
  role.addEventListener("change", () => change(user.username, { role: role.value }));
  const areas = areaSelect(user.areas);
  areas.addEventListener("change", () => change(user.username, { areas: chosen(areas) }));
  const enabled = el("input", { type: "checkbox", checked: !user.disabled });
  enabled.addEventListener("change", () => change(user.username, { disabled: !enabled.checked }));
  const password = el("input", { type: "password", minlength: 10, autocomplete: "new-password", i18nPlaceholder: "new_password" });
  const setPassword = el("button", { type: "button", i18n: "set_password",
    onclick: () => change(user.username, { password: password.value }) });
  return el("tr", { "data-username": user.username },
    el("td", {}, user.username), el("td", {}, role), el("td", {}, areas), el("td", {}, enabled),
    el("td", {}, password, " ", setPassword));
}

async function loadUsers() {
  $("users").replaceChildren(...(await api("/api/users")).map(row));
}

async function addUser(event) {
  event.preventDefault();
  const form = event.target;
  const body = { username: form.username.value, password: form.password.value, role: form.role.value,
    areas: chosen($("new-areas")), language: M.lang };
  try {
    await api("/api/users", { method: "POST", body });
    form.reset();
    notify("saved", false);
  } catch (error) {
    notify(userErrorKey(error));
  }
  await loadUsers();
}

async function initUsers() {
  const cameras = await api("/api/cameras");
  AREAS = [...new Set(cameras.map((cam) => cam.area))].filter(Boolean).sort();
  $("new-role").append(...ROLES.map((role) => el("option", { value: role, i18n: `role_${role}` })));
  $("new-areas").size = Math.min(AREAS.length, 4);
  $("new-areas").append(...AREAS.map((area) => el("option", { value: area }, area)));
  $("add-user").addEventListener("submit", addUser);
  await loadUsers();
}

boot("users", initUsers);
