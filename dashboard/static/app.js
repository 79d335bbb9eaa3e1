// The station page: camera list, and the live alert feed over a WebSocket that
// reconnects by itself and asks for what it missed (?after=<last id>).
"use strict";

const state = { lang: localStorage.getItem("matthan.lang") || null, lastId: 0, alerts: 0 };
const $ = (id) => document.getElementById(id);

function t(key) {
  const table = window.MATTHAN_STRINGS[state.lang] || window.MATTHAN_STRINGS.vi;
  return table[key] !== undefined ? table[key] : key;
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  $("lang-toggle").textContent = state.lang === "vi" ? "EN" : "VI";
}

function formatTime(seconds) {
  const locale = state.lang === "vi" ? "vi-VN" : "en-GB";
  return new Date(seconds * 1000).toLocaleString(locale, { timeZone: "Asia/Ho_Chi_Minh", hour12: false });
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "i18n") { node.dataset.i18n = v; node.textContent = t(v); } else { node.setAttribute(k, v); }
  });
  children.forEach((c) => node.append(c));
  return node;
}

function renderAlert(alert, fresh) {
  const item = el("li", { class: `alert ${alert.severity}${fresh ? " fresh" : ""}`, "data-alert-id": alert.id });
  const img = el("img", { src: alert.snapshot_url, alt: alert.rule, loading: "lazy" });
  const body = el("div", {},
    el("div", { class: "camera" }, alert.camera_name),
    el("div", { class: "meta" },
      el("span", { class: "time" }, formatTime(alert.started_at)), " · ", alert.area, el("br"),
      el("span", { i18n: `kind_${alert.kind}` }), " · ", el("span", { i18n: "rule" }), `: ${alert.rule}`, el("br"),
      el("span", { i18n: "object" }), ": ", el("span", { class: "class-name", i18n: `class_${alert.class_name}` }),
      alert.confidence !== null ? ` (${Math.round(alert.confidence * 100)}%)` : "", " · ",
      el("span", { i18n: `severity_${alert.severity}` })));
  item.append(img, body);
  return item;
}

function addAlert(alert, fresh) {
  if (document.querySelector(`[data-alert-id="${alert.id}"]`)) return;
  const list = $("alerts");
  list.prepend(renderAlert(alert, fresh));
  state.lastId = Math.max(state.lastId, alert.id);
  state.alerts += 1;
  $("alert-count").textContent = state.alerts;
  $("no-alerts").hidden = true;
  while (list.children.length > 200) list.lastElementChild.remove();
}

async function loadCameras() {
  const response = await fetch("/api/cameras");
  if (!response.ok) return;
  const list = $("cameras");
  list.replaceChildren(...(await response.json()).map((cam) =>
    el("li", { "data-camera-id": cam.id, title: cam.detail },
      el("span", {}, cam.name, el("span", { class: "cam-area" }, cam.area)),
      el("span", { class: `cam-state ${cam.state}`, i18n: `state_${cam.state}` }))));
}

function connectFeed() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/alerts?after=${state.lastId}`);
  socket.onopen = () => { $("feed-status").className = "status live"; $("feed-status").dataset.i18n = "feed_live"; applyLanguage(); };
  socket.onmessage = (event) => addAlert(JSON.parse(event.data), state.lastId > 0);
  socket.onclose = () => {
    $("feed-status").className = "status offline"; $("feed-status").dataset.i18n = "feed_lost"; applyLanguage();
    setTimeout(connectFeed, 2000);
  };
}

async function main() {
  const site = await (await fetch("/api/site")).json();
  $("site-name").textContent = site.name;
  state.lang = state.lang || site.language;
  applyLanguage();
  $("lang-toggle").onclick = () => {
    state.lang = state.lang === "vi" ? "en" : "vi";
    localStorage.setItem("matthan.lang", state.lang);
    applyLanguage();
  };
  await loadCameras();
  setInterval(loadCameras, 5000);
  connectFeed();
}

main();
