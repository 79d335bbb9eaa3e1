// The district hub's page: log in, then every few seconds the stations the user may see,
// their links and cameras, and their newest alerts. Read-only: nothing here changes a station.

const STRINGS = {
  vi: {
    title: "Mắt Thần – trung tâm quận", login: "Đăng nhập", logout: "Đăng xuất",
    username: "Tên đăng nhập", password: "Mật khẩu", wrong: "Sai tên đăng nhập hoặc mật khẩu",
    throttled: "Thử lại sau ít phút", stations: "Các trạm", alerts: "Cảnh báo mới nhất",
    time: "Thời gian", station: "Trạm", camera: "Camera", kind: "Loại", severity: "Mức độ",
    ended: "Kết thúc", open: "đang mở", link_up: "đã kết nối", link_down: "mất kết nối",
    lag: "chờ nhận", open_alerts: "cảnh báo đang mở", no_alerts: "Chưa có cảnh báo.",
    read_only: "Chỉ xem: xác nhận cảnh báo tại trạm.", language: "English",
    last_event: "sự kiện cuối", never: "chưa có", picture: "Ảnh",
    severity_info: "Thông tin", severity_warning: "Cảnh báo", severity_critical: "Khẩn cấp",
    kind_intrusion: "Xâm nhập vùng", kind_loitering: "Lảng vảng", kind_line_crossing: "Vượt vạch",
    kind_crowd: "Tụ tập đông người", kind_camera_offline: "Camera mất tín hiệu",
    kind_disk_low: "Ổ đĩa sắp đầy", kind_tamper_covered: "Camera bị che",
    kind_tamper_blurred: "Hình camera bị mờ", kind_tamper_moved: "Camera bị xoay, dời hướng",
    kind_tamper_frozen: "Hình camera bị đứng", kind_analysis_down: "Phân tích hình ngừng chạy",
    kind_plate_watch: "Biển số trong danh sách theo dõi",
    state_online: "Hoạt động", state_offline: "Mất tín hiệu", state_connecting: "Đang kết nối",
    state_stalled: "Đứng hình", state_failed: "Lỗi",
  },
  en: {
    title: "Mắt Thần – district hub", login: "Log in", logout: "Log out",
    username: "User name", password: "Password", wrong: "Wrong user name or password",
    throttled: "Try again in a few minutes", stations: "Stations", alerts: "Newest alerts",
    time: "Time", station: "Station", camera: "Camera", kind: "Kind", severity: "Severity",
    ended: "Ended", open: "open", link_up: "linked", link_down: "link down",
    lag: "waiting", open_alerts: "open alerts", no_alerts: "No alerts yet.",
    read_only: "Read-only: alerts are acknowledged at their station.", language: "Tiếng Việt",
    last_event: "last event", never: "never", picture: "Picture",
    severity_info: "Info", severity_warning: "Warning", severity_critical: "Critical",
    kind_intrusion: "Zone intrusion", kind_loitering: "Loitering", kind_line_crossing: "Line crossing",
    kind_crowd: "Crowd forming", kind_camera_offline: "Camera offline",
    kind_disk_low: "Disk almost full", kind_tamper_covered: "Camera covered",
    kind_tamper_blurred: "Camera picture blurred", kind_tamper_moved: "Camera turned away",
    kind_tamper_frozen: "Camera picture frozen", kind_analysis_down: "Video analysis stopped",
    kind_plate_watch: "Watch-list plate",
    state_online: "Online", state_offline: "Offline", state_connecting: "Connecting",
    state_stalled: "Stalled", state_failed: "Failed",
  },
};
const REFRESH_MS = 2000;
let language = localStorage.getItem("hub-language") || "vi";
let timer = null;

const $ = (selector) => document.querySelector(selector);
const t = (key) => STRINGS[language][key] ?? key;

function two(n) { return String(n).padStart(2, "0"); }
function formatTime(epoch) {
  const d = new Date(epoch * 1000);
  return `${two(d.getDate())}/${two(d.getMonth() + 1)}/${d.getFullYear()} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

function translate() {
  document.documentElement.lang = language;
  for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
  $("#language").textContent = t("language");
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function showStations(stations) {
  const box = $("#stations");
  box.replaceChildren(...stations.map((station) => {
    const card = element("div", undefined, "station");
    card.dataset.station = station.id;
    card.dataset.link = station.link_up ? "up" : "down";
    card.title = station.error;
    const title = element("h3", `${station.name} (${station.id}) `);
    title.append(element("span", t(station.link_up ? "link_up" : "link_down"),
      `link ${station.link_up ? "up" : "down"}`));
    card.append(title);
    const last = station.last_event_at ? formatTime(station.last_event_at) : t("never");
    const lag = station.lag === null ? "–" : station.lag;
    card.append(element("div", `${station.open_alerts} ${t("open_alerts")} · ${t("lag")} ${lag}` +
      ` · ${t("last_event")} ${last}`, "muted"));
    const list = element("ul");
    for (const camera of station.cameras) {
      const item = element("li", `${camera.id}: ${t(`state_${camera.state}`)}`,
        `cam-${camera.state}`);
      item.title = camera.detail;
      list.append(item);
    }
    card.append(list);
    return card;
  }));
}

// Each alert's picture element, kept across refreshes: pictures are served uncached, so a new
// element every 2 s would fetch every picture again.
let pictures = new Map();

function pictureOf(alert) {
  const key = `${alert.station}/${alert.id}`;
  let picture = pictures.get(key);
  if (!picture) {
    picture = element("img", undefined, "snapshot");
    picture.loading = "lazy";
    picture.alt = "";
    picture.src = `/api/hub/stations/${encodeURIComponent(alert.station)}/alerts/${alert.id}/snapshot.jpg`;
  }
  return picture;
}

function showAlerts(alerts) {
  pictures = new Map(alerts.map((alert) => [`${alert.station}/${alert.id}`, pictureOf(alert)]));
  const body = $("#alerts tbody");
  body.replaceChildren(...alerts.map((alert) => {
    const row = element("tr", undefined, `sev-${alert.severity}`);
    row.dataset.station = alert.station;
    row.dataset.camera = alert.camera_id;
    row.dataset.started = String(alert.started_at);
    for (const text of [formatTime(alert.started_at), alert.station, alert.camera_id,
      t(`kind_${alert.kind}`), t(`severity_${alert.severity}`),
      alert.ended_at ? formatTime(alert.ended_at) : t("open")]) {
      row.append(element("td", text));
    }
    const cell = element("td");
    cell.append(pictureOf(alert));
    row.append(cell);
    return row;
  }));
  $("#no-alerts").hidden = alerts.length > 0;
}

async function refresh() {
  const response = await fetch("/api/hub/overview", { credentials: "same-origin" });
  if (response.status === 401) return showLogin();
  if (!response.ok) return;
  const data = await response.json();
  $("#hub-id").textContent = data.hub;
  showStations(data.stations);
  showAlerts(data.alerts);
  document.documentElement.dataset.refreshed = String(Date.now());
}

function showLogin() {
  clearInterval(timer);
  $("#overview").hidden = true;
  $("#logout").hidden = true;
  $("#who").textContent = "";
  $("#login").hidden = false;
}

async function showOverview(me) {
  $("#login").hidden = true;
  $("#overview").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = me.username;
  await refresh();
  clearInterval(timer);
  timer = setInterval(refresh, REFRESH_MS);
}

async function login(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const response = await fetch("/api/hub/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
  });
  const error = $("#login-error");
  if (!response.ok) {
    error.textContent = t(response.status === 429 ? "throttled" : "wrong");
    error.hidden = false;
    return;
  }
  error.hidden = true;
  await showOverview(await response.json());
}

async function logout() {
  await fetch("/api/hub/logout", { method: "POST" });
  showLogin();
}

async function boot() {
  translate();
  $("#login").addEventListener("submit", login);
  $("#logout").addEventListener("click", logout);
  $("#language").addEventListener("click", () => {
    language = language === "vi" ? "en" : "vi";
    localStorage.setItem("hub-language", language);
    translate();
    refresh();
  });
  const me = await fetch("/api/hub/me");
  if (me.ok) await showOverview(await me.json());
  else showLogin();
  document.documentElement.dataset.ready = "";
}

boot();
