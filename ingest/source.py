"""What a worker needs to read one camera, and how its URL gets its login without leaking it."""

from __future__ import annotations

from dataclasses import dataclass

from common.config import MotionConfig, SiteConfig
from common.credentials import MissingCredentialsError, url_with_login

__all__ = ["CameraSource", "MissingCredentialsError", "sources_for"]


@dataclass(frozen=True, slots=True)
class CameraSource:
    """One camera as a reader sees it: the URL here never holds a password."""

    camera_id: str
    url: str
    record_url: str | None
    analysis_fps: float
    analysis_size: int
    open_timeout_s: float
    read_timeout_s: float
    motion: MotionConfig
    username_env: str | None = None
    password_env: str | None = None

    def connect_url(self, url: str) -> str:
        """``url`` with the login from the environment inserted. Never log the result."""
        return url_with_login(url, self.username_env, self.password_env)


def sources_for(site: SiteConfig) -> list[CameraSource]:
    """The detect streams of every enabled camera."""
    return [
        CameraSource(
            camera_id=camera.id,
            url=camera.detect_url,
            record_url=(camera.record_url or camera.detect_url)
            if camera.record and site.recording.enabled
            else None,
            analysis_fps=site.analysis_fps(camera),
            analysis_size=site.ingest.analysis_size,
            open_timeout_s=site.ingest.open_timeout_s,
            read_timeout_s=site.ingest.read_timeout_s,
            motion=camera.motion,
            username_env=camera.credentials.username_env if camera.credentials else None,
            password_env=camera.credentials.password_env if camera.credentials else None,
        )
        for camera in site.cameras
        if camera.enabled
    ]
