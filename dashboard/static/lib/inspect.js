// The dashboard's one inspection handle: `window.matthan.<name>` holds a page's inner objects
// (the live wall, a camera page's live view, its detections overlay, its replay). It exists
// for the browser tests and for operators' debugging from the browser console; no page reads
// it, and nothing else of a page is global (every page is an ES module).
//
// Handles: "wall" (pages/wall_live.js), "live", "overlay", "replay" (pages/camera.js).

export function expose(name, object) {
  if (window.matthan === undefined) window.matthan = {};
  window.matthan[name] = object;
}
