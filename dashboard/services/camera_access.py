"""Which cameras a user may see: a user sees the cameras of their areas (every camera for an
unscoped user), and a site-wide alert (analysis down, disk low) concerns everyone."""

from __future__ import annotations

from common.accounts import User
from common.alert_query import SITE_WIDE
from common.config import CameraConfig, SiteConfig


def find_camera(site: SiteConfig, camera_id: str) -> CameraConfig | None:
    """The configured camera of this id, or None."""
    return next((camera for camera in site.cameras if camera.id == camera_id), None)


def visible_cameras(site: SiteConfig, user: User) -> list[CameraConfig]:
    """The cameras of the user's areas (all of them for an unscoped user)."""
    return [camera for camera in site.cameras if user.sees_area(camera.area)]


def may_see(site: SiteConfig, user: User, camera_id: str) -> bool:
    """Whether the user sees this camera's alerts and footage; a site-wide alert concerns every
    area, so every user sees it. An unknown camera counts as one of no area."""
    if camera_id == SITE_WIDE:
        return True
    camera = find_camera(site, camera_id)
    return user.sees_area(camera.area if camera else "")


def visible_camera(site: SiteConfig, user: User, camera_id: str) -> CameraConfig | None:
    """The configured camera of this id if the user sees it, else None (the routes answer
    404 for both, so a camera of another area looks like no camera at all)."""
    camera = find_camera(site, camera_id)
    return camera if camera is not None and user.sees_area(camera.area) else None


def search_scope(
    site: SiteConfig, user: User, camera: str | None, area: str | None
) -> tuple[str, ...] | None:
    """The camera ids a search (plates, sightings) may cover, narrowed to ``camera`` or ``area``
    when given; None when it is every camera there is (the reads
    of a camera since removed from the config too)."""
    cameras = visible_cameras(site, user)
    if camera is None and area is None and len(cameras) == len(site.cameras):
        return None
    return tuple(cam.id for cam in cameras if camera in (None, cam.id) and area in (None, cam.area))
