// Re-analysis jobs, shared by the re-analysis page and the camera page: queueing a
// recorded range, uploading a file (with its progress), and the server's refusals in the
// user's language. A refusal comes as {code, message, ...facts}: the page has a sentence
// for each code (`ra_error_<code>`, facts filled in) and shows the server's message for a
// code it does not know.

import { api, ApiError, errorKey, toLogin } from "./api.js";
import { hasString, t } from "./i18n.js";
import { M } from "./session.js";

export function fillIn(text, facts) {
  return text.replace(/\{(\w+)\}/g, (whole, name) => (facts[name] !== undefined ? String(facts[name]) : whole));
}

export function refusalText(error) {
  const detail = error && error.detail;
  if (detail && typeof detail === "object" && !Array.isArray(detail) && detail.code) {
    const key = `ra_error_${detail.code}`;
    return hasString(key) ? fillIn(t(key), detail) : detail.message;
  }
  return t(error && error.status !== undefined ? errorKey(error) : "error_generic");
}

export function queueRange(cameraId, start, end) {
  return api("/api/reanalysis/jobs", { method: "POST", body: { camera_id: cameraId, start, end } });
}

// Sends `file` as the raw request body; onProgress(fraction) while it goes up (fetch()
// cannot report that, XMLHttpRequest can). Resolves to the queued job.
export function uploadVideo(file, cameraId, start, onProgress) {
  const query = new URLSearchParams({ camera_id: cameraId, filename: file.name });
  if (start !== null) query.set("start", start);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/reanalysis/uploads?${query}`);
    xhr.setRequestHeader("X-CSRF-Token", M.me.csrf_token);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.onprogress = (event) => { if (event.lengthComputable) onProgress(event.loaded / event.total); };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = null; }
      if (xhr.status === 401) { toLogin(); reject(new ApiError(401)); }
      else if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body ? body.detail : null));
    };
    xhr.onerror = () => reject(new ApiError(0, { code: "interrupted", message: "the upload was interrupted" }));
    xhr.send(file);
  });
}
