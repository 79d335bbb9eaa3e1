"""The demo site: the clip library served as RTSP cameras, and the pipeline on top.

``configs/demo.yaml`` points its cameras at ``rtsp://127.0.0.1:8554/<mount>``; this module
knows which clip each mount plays and starts the camera farm before the site. The demo's
dashboard is served over HTTPS with a self-signed certificate made on first start; its
fingerprint is printed so that the browser's warning can be checked against it.
"""

from __future__ import annotations

import logging
import secrets
from urllib.parse import urlsplit

from common.accounts import Accounts, Role
from common.config import SiteConfig
from common.paths import default_clips_dir
from common.store import Store
from dashboard.certificate import fingerprint, make_self_signed
from matthan.farm import CameraFarm, Mount
from matthan.farm.photo_clip import photo_clip
from matthan.service import run_site

log = logging.getLogger(__name__)

DEMO_CLIPS = {
    "pets-crossroads": "pets09_s2l1_vtest.mp4",
    "parking-lot": "intel_parking_lot_cars.mp4",
    "office": "intel_indoor_one_by_one_person.mp4",
    "sidewalk": "la_cam68_1st_alameda_sidewalk.mp4",
    "street": "residential_street_cars_unverified.mp4",
    "empty-lot": "empty_parking_lot_pingpong.mp4",
    "store-room": "indoor_light_switching_no_motion.mp4",
    "hallway": "indoor_walking_by.mp4",
}
PHOTO_MOUNTS = {"plates-gate": "plates-gate.mp4"}
"""Mounts whose clip the demo makes from the plate photos (:mod:`matthan.farm.photo_clip`),
once, into ``demo-clips/`` beside the store."""


def farm_mounts(site: SiteConfig) -> tuple[int, list[Mount]]:
    """The farm port and mounts that the site's camera URLs ask for."""
    clips = default_clips_dir()
    made = site.storage.database.resolve().parent / "demo-clips"
    ports, mounts = set(), []
    for camera in site.cameras:
        url = urlsplit(camera.detect_url)
        name = url.path.strip("/")
        if name in PHOTO_MOUNTS:
            clip = made / PHOTO_MOUNTS[name]
            if not clip.exists():
                made.mkdir(parents=True, exist_ok=True)
                photo_clip(clip.with_suffix(".part.mp4")).rename(clip)
        elif name in DEMO_CLIPS:
            clip = clips / DEMO_CLIPS[name]
        else:
            raise ValueError(f"camera {camera.id!r}: no demo clip for mount {name!r}")
        ports.add(url.port or 554)
        mounts.append(Mount(name=name, clip=clip))
    if len(ports) != 1:
        raise ValueError(f"demo cameras must share one farm port, got {sorted(ports)}")
    return ports.pop(), mounts


def ensure_demo_admin(site: SiteConfig) -> None:
    """A first admin for the demo, so the page can be opened at once: ``admin`` with a
    fresh random password, printed once. A store that has users already is left alone."""
    store = Store(site.storage.database.resolve())
    try:
        accounts = Accounts(store)
        if accounts.users():
            return
        password = secrets.token_urlsafe(9)
        accounts.add_user("admin", password, Role.ADMIN, actor="demo")
    finally:
        store.close()
    banner = f"Demo login: user 'admin', password '{password}' (shown once; change it later)"
    print(f"\n{'=' * len(banner)}\n{banner}\n{'=' * len(banner)}\n", flush=True)


DEMO_HOSTS = ["localhost", "127.0.0.1", "::1"]
"""What the demo certificate is valid for: the demo listens on loopback only."""


def ensure_demo_certificate(site: SiteConfig) -> None:
    """Make the self-signed pair ``dashboard.tls`` names if either file is missing, and print
    the certificate's SHA-256 fingerprint and the addresses to open."""
    config = site.dashboard
    if config.tls is None:
        return
    cert, key = config.tls.cert, config.tls.key
    if not (cert.exists() and key.exists()):
        make_self_signed(cert, key, DEMO_HOSTS)
        log.info("made a self-signed demo certificate: %s", cert)
    lines = [f"Dashboard: https://localhost:{config.port}  (self-signed certificate, SHA-256:"]
    lines.append(f"  {fingerprint(cert)})")
    if config.redirect_port is not None:
        lines.append(f"http://localhost:{config.redirect_port} redirects there.")
    print("\n".join(lines), flush=True)


def run_demo(site: SiteConfig) -> int:
    """Serve the demo cameras, then run the site until Ctrl-C."""
    ensure_demo_admin(site)
    ensure_demo_certificate(site)
    port, mounts = farm_mounts(site)
    with CameraFarm(mounts, port=port) as farm:
        log.info("camera farm serving %d clips on rtsp://127.0.0.1:%d", len(mounts), farm.port)
        return run_site(site)
