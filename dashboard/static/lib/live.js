// Live view: a WebRTC peer that receives the camera's own H.264, passed through by the
// server without re-encoding. The browser offers H.264 only, so the answer keeps it.

import { api } from "./api.js";

// The server (aiortc) takes no trickled candidates: the offer must carry them, so wait until
// the browser has gathered them (host candidates only: a moment), or at most `limitMs`.
function gathered(peer, limitMs) {
  if (peer.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (peer.iceGatheringState !== "complete") return;
      peer.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    peer.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, limitMs);
  });
}

export class LiveView {
  constructor(video, cameraId) {
    this.video = video;
    this.cameraId = cameraId;
    this.peer = null;
  }

  async start() {
    this.stop();
    const peer = new RTCPeerConnection();
    this.peer = peer;
    const transceiver = peer.addTransceiver("video", { direction: "recvonly" });
    const h264 = RTCRtpReceiver.getCapabilities("video").codecs.filter((c) => c.mimeType === "video/H264");
    if (!h264.length) throw new Error("no H.264 in this browser");
    transceiver.setCodecPreferences(h264);
    peer.ontrack = (event) => {
      this.video.srcObject = event.streams[0] || new MediaStream([event.track]);
      this.video.play().catch(() => {});
    };
    peer.onconnectionstatechange = () => {
      if (["failed", "closed"].includes(peer.connectionState)) this.video.dispatchEvent(new Event("liveended"));
    };
    await peer.setLocalDescription(await peer.createOffer());
    await gathered(peer, 5000);
    const answer = await api(`/api/cameras/${encodeURIComponent(this.cameraId)}/webrtc`, {
      method: "POST", body: { sdp: peer.localDescription.sdp, type: peer.localDescription.type },
    });
    await peer.setRemoteDescription(answer);
  }

  stop() {
    if (this.peer) this.peer.close();
    this.peer = null;
    this.video.srcObject = null;
  }

  // Frames the browser decoded so far (from getStats), for the page and the tests.
  async framesDecoded() {
    if (!this.peer) return 0;
    let frames = 0;
    (await this.peer.getStats()).forEach((report) => {
      if (report.type === "inbound-rtp" && report.kind === "video") frames = report.framesDecoded || 0;
    });
    return frames;
  }
}
