// Every time on the pages is the site's wall clock, written the site's way whatever the
// browser's language: "dd/mm/yyyy HH:mm:ss", 24 h (vi-VN and en-GB agree on the order).
// Date-time fields are read and filled the same way, in the site's zone.

import { M } from "./session.js";

export function formatTime(seconds) {
  const p = siteParts(seconds);
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}:${p.second}`;
}

function siteZone() {
  return M.site ? M.site.timezone : "Asia/Ho_Chi_Minh";
}

// The site's wall clock at `seconds`, in parts (two digits each, year four).
function siteParts(seconds) {
  const parts = {};
  new Intl.DateTimeFormat("en-CA", {
    timeZone: siteZone(), hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(seconds * 1000)).forEach((part) => { parts[part.type] = part.value; });
  return parts;
}

// Date-time fields are text fields in the site's format, "dd/mm/yyyy HH:mm" (":ss" when the
// seconds matter), not <input type="datetime-local">, which writes the browser's format
// (mm/dd/yyyy and AM/PM on an English computer). They are read and filled in the site's zone,
// whatever the zone of the browser's computer.
export function siteInputValue(seconds) {
  const p = siteParts(seconds);
  const time = p.second === "00" ? `${p.hour}:${p.minute}` : `${p.hour}:${p.minute}:${p.second}`;
  return `${p.day}/${p.month}/${p.year} ${time}`;
}

const SITE_INPUT = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$/;

// Unix seconds of a field's wall time read in the site's zone; null when the field is empty
// or is not a real date and time.
export function siteInputSeconds(value) {
  const match = SITE_INPUT.exec(value || "");
  if (!match) return null;
  const [day, month, year, hour, minute, second] = match.slice(1).map((v) => Number(v ?? 0));
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second) / 1000;
  const back = new Date(asUtc * 1000);
  const clock = hour > 23 || minute > 59 || second > 59;
  if (clock || back.getUTCDate() !== day || back.getUTCMonth() !== month - 1) {
    return null;  // 31/02, 24:00, 12:61...
  }
  let seconds = asUtc;
  for (let pass = 0; pass < 2; pass += 1) {  // twice: right across a daylight-saving change
    const p = siteParts(seconds);
    const shown = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) / 1000;
    seconds = asUtc - (shown - seconds);
  }
  return seconds;
}
