// The investigation search page: the best sighting of every ended track, searched by class,
// colour, camera, area, zone and time across the cameras the user sees; each crop opens the
// camera's replay at that moment, and "more like this" ranks every camera's sightings by how
// alike they look to one (the score shown on each).

import { api } from "../lib/api.js";
import { boot } from "../lib/boot.js";
import { $, el, label } from "../lib/dom.js";
import { applyLanguage, hasString, t } from "../lib/i18n.js";
import { formatTime, siteInputSeconds } from "../lib/time.js";

const SEARCH_PAGE = 60;
const Search = { options: null, similarTo: null };

function colourSwatch(name) {
  return el("span", { class: `swatch swatch-${name}`, "aria-hidden": "true" });
}

// ---- the form ---------------------------------------------------------------------------

// A class in the user's language, or as the server names it when the page has no word for it.
function classOption(name) {
  const key = `class_${name}`;
  return hasString(key) ? el("option", { value: name, i18n: key }) : el("option", { value: name }, name);
}

function fillForm(options) {
  $("s-class").append(...options.classes.map(classOption));
  $("s-camera").append(...options.cameras.map((cam) => el("option", { value: cam.id }, cam.name)));
  $("s-area").append(...options.areas.map((area) => el("option", { value: area }, area)));
  $("s-colours").append(...options.colours.map((name) =>
    el("label", { class: "colour-choice" },
      el("input", { type: "radio", name: "colour", value: name }), " ",
      colourSwatch(name), el("span", { i18n: `colour_${name}` }))));
  fillZones();
}

// The zones of the chosen camera (or of every camera of the chosen area, or all of them).
function fillZones() {
  const camera = $("s-camera").value;
  const area = $("s-area").value;
  const cameras = Search.options.cameras.filter((cam) => (!camera || cam.id === camera) && (!area || cam.area === area));
  const zones = [...new Set(cameras.flatMap((cam) => cam.zones))].sort();
  const chosen = $("s-zone").value;
  $("s-zone").replaceChildren(el("option", { value: "", i18n: "search_any_zone" }),
    ...zones.map((zone) => el("option", { value: zone }, zone)));
  $("s-zone").value = zones.includes(chosen) ? chosen : "";
}

function chosenColour() {
  const checked = document.querySelector('#s-colours input[name="colour"]:checked');
  return checked ? checked.value : "";
}

// The form as the API's query (times as Unix seconds in the site's zone). "More like this"
// keeps the time and area but not the camera, zone, class or colour: it looks across cameras.
function searchQuery(similar) {
  const query = new URLSearchParams({ limit: SEARCH_PAGE });
  const since = siteInputSeconds($("s-since").value);
  const until = siteInputSeconds($("s-until").value);
  if (since !== null) query.set("since", since);
  if (until !== null) query.set("until", until);
  if ($("s-area").value) query.set("area", $("s-area").value);
  if (similar) return query;
  if ($("s-class").value) query.set("class_name", $("s-class").value);
  if (chosenColour()) query.set("colour", chosenColour());
  if ($("s-camera").value) query.set("camera", $("s-camera").value);
  if ($("s-zone").value) query.set("zone", $("s-zone").value);
  return query;
}

// ---- the results ------------------------------------------------------------------------

function colourChips(colours) {
  return el("div", { class: "colour-chips" }, ...colours.map((colour) =>
    el("span", { class: "colour-chip", "data-colour": colour.name },
      colourSwatch(colour.name), el("span", { i18n: `colour_${colour.name}` }),
      ` ${Math.round(colour.share * 100)}%`)));
}

function renderSighting(found) {
  const score = found.score === null || found.score === undefined ? null
    : el("div", { class: "score" }, el("span", { i18n: "search_score" }), `: ${Math.round(found.score * 100)}%`);
  return el("li", { class: "sighting", "data-sighting-id": found.id },
    el("a", { class: "sighting-picture", href: found.replay_url, i18nTitle: "plate_open_replay" },
      el("img", { src: found.crop_url, alt: "", loading: "lazy" })),
    score,
    el("div", { class: "sighting-meta" },
      el("span", { class: "time" }, formatTime(found.best_at)), el("br"),
      el("a", { class: "camera", href: `/cameras/${encodeURIComponent(found.camera_id)}` }, found.camera_name),
      found.area ? ` · ${found.area}` : "", el("br"),
      label("class", found.class_name, { class: "class-name" })),
    colourChips(found.colours),
    el("div", { class: "sighting-actions" },
      el("a", { class: "replay-link", href: found.replay_url, i18n: "plate_open_replay" }),
      el("button", { type: "button", class: "more-like", i18n: "search_more_like", onclick: () => showSimilar(found) })));
}

function showError(key) {
  $("search-error").hidden = !key;
  $("search-error").textContent = key ? t(key) : "";
  if (key) $("search-error").dataset.i18n = key;
}

function showResults(results) {
  $("sightings").replaceChildren(...results.map(renderSighting));
  $("no-sightings").hidden = results.length > 0;
}

async function runSearch() {
  Search.similarTo = null;
  $("similar-bar").hidden = true;
  showError(null);
  try {
    showResults(await api(`/api/sightings?${searchQuery(false)}`));
  } catch (error) {
    $("sightings").replaceChildren();
    $("no-sightings").hidden = true;
    showError(error.status === 422 ? "search_error_invalid" : "search_error");
  }
}

// "More like this": every camera's sightings, the most alike first, each with its score.
async function showSimilar(found) {
  Search.similarTo = found;
  showError(null);
  $("similar-crop").src = found.crop_url;
  $("similar-what").replaceChildren(
    label("class", found.class_name), ` · ${found.camera_name} · ${formatTime(found.best_at)}`);
  $("similar-bar").hidden = false;
  try {
    showResults(await api(`/api/sightings/${found.id}/similar?${searchQuery(true)}`));
  } catch (error) {
    $("sightings").replaceChildren();
    $("no-sightings").hidden = true;
    showError("search_error");
  }
  $("similar-bar").scrollIntoView({ block: "nearest" });
}

async function initSearch() {
  Search.options = await api("/api/sightings/options");
  fillForm(Search.options);
  applyLanguage($("search-form"));
  const form = $("search-form");
  form.addEventListener("submit", (event) => { event.preventDefault(); runSearch(); });
  form.addEventListener("reset", () => setTimeout(() => { fillZones(); runSearch(); }, 0));
  $("s-camera").addEventListener("change", fillZones);
  $("s-area").addEventListener("change", fillZones);
  $("similar-back").addEventListener("click", runSearch);
  await runSearch();
}

boot("search", initSearch);
