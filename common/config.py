"""The site configuration: strict pydantic models for the YAML a station writes.

Every model forbids unknown keys and bounds its numbers, so a typo fails loudly instead
of silently falling back to a default. Cross-field checks that pydantic cannot place on a
key (duplicate camera ids, a rule naming a zone that does not exist) live in
:func:`semantic_issues`, which reports the same key paths as pydantic does. Loading and
error formatting are in :mod:`common.config_loader`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from common.addresses import is_loopback, is_wildcard, normal_host
from common.coco import COCO_CLASSES
from common.messages import Severity

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
Point = tuple[Fraction, Fraction]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
RTSP_URL = re.compile(r"^rtsps?://[^\s/@]+(:\d+)?(/\S*)?$")


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors and values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Zone(StrictModel):
    """A polygon on the camera picture, in fractions of its width and height (0..1)."""

    name: Identifier
    points: list[Point] = Field(min_length=3, max_length=64)


class Line(StrictModel):
    """A counting line on the camera picture, from ``points[0]`` to ``points[1]`` (fractions).

    ``in_side`` names the side that counts as "in", as seen on the picture when looking from
    the first point towards the second: an object whose feet move onto that side crosses *in*,
    one that moves off it crosses *out*.
    """

    name: Identifier
    points: tuple[Point, Point]
    in_side: Literal["left", "right"] = "left"

    @field_validator("points")
    @classmethod
    def _long_enough(cls, value: tuple[Point, Point]) -> tuple[Point, Point]:
        (x1, y1), (x2, y2) = value
        if abs(x2 - x1) + abs(y2 - y1) < 0.02:
            raise ValueError("the two points of a line must be at least 0.02 of the picture apart")
        return value


class Schedule(StrictModel):
    """Hours in which a rule is armed, in the site's time zone; may wrap past midnight."""

    start: dt.time
    end: dt.time

    def active_at(self, moment: dt.time) -> bool:
        """True when ``moment`` lies in [start, end), wrapping at midnight (22:00-05:00)."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class _RuleBase(StrictModel):
    """What every rule has: a name, the classes it watches, a cooldown, a severity, hours."""

    name: Identifier
    classes: list[str] = Field(default_factory=lambda: ["person"], min_length=1)
    cooldown_s: float = Field(
        default=60.0,
        ge=0.0,
        le=86400.0,
        description="after an alert, this rule stays quiet on this camera for so long",
    )
    severity: Severity = Severity.WARNING
    schedule: Schedule | None = None

    @field_validator("classes")
    @classmethod
    def _known_classes(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in COCO_CLASSES]
        if unknown:
            raise ValueError(f"unknown class {unknown[0]!r}; known: person, car, bicycle, ...")
        return value


class IntrusionRule(_RuleBase):
    """Alert when an object of the given classes is inside a zone for ``min_presence_s``."""

    kind: Literal["intrusion"]
    zone: Identifier
    min_presence_s: float = Field(default=0.0, ge=0.0, le=3600.0)
    min_hits: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="times the object must be detected in the zone (not frames: the rate varies)",
    )


class LoiteringRule(_RuleBase):
    """Alert when one tracked object stays inside a zone for ``min_dwell_s`` or longer."""

    kind: Literal["loitering"]
    zone: Identifier
    min_dwell_s: float = Field(ge=1.0, le=86400.0)
    min_hits: int = Field(
        default=1,
        ge=1,
        le=1000,
        description="times the object must be detected in the zone (not frames: the rate varies)",
    )


class LineCrossingRule(_RuleBase):
    """Alert when a tracked object crosses a line in ``direction`` (see :class:`Line`)."""

    kind: Literal["line_crossing"]
    line: Identifier
    direction: Literal["in", "out", "both"] = "both"


class CrowdRule(_RuleBase):
    """Alert when ``min_count`` or more objects stand in a zone for ``min_duration_s``."""

    kind: Literal["crowd"]
    zone: Identifier
    min_count: int = Field(ge=2, le=1000)
    min_duration_s: float = Field(default=5.0, ge=0.0, le=3600.0)


AnyRule = IntrusionRule | LoiteringRule | LineCrossingRule | CrowdRule
Rule = Annotated[AnyRule, Field(discriminator="kind")]
"""A rule of any kind, told apart by its ``kind`` key."""
RULE_MODELS = (IntrusionRule, LoiteringRule, LineCrossingRule, CrowdRule)
RULE_KINDS: tuple[str, ...] = tuple(
    get_args(model.model_fields["kind"].annotation)[0] for model in RULE_MODELS
)
"""The ``kind`` of every rule model; pydantic puts it into the error paths of the union."""


class Credentials(StrictModel):
    """Names of environment variables holding the camera's RTSP login, never the values."""

    username_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")
    password_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")


def _check_rtsp_url(value: str) -> str:
    if "@" in value:
        raise ValueError("credentials must not be written in the URL; use credentials.*_env")
    if not RTSP_URL.match(value):
        raise ValueError("expected rtsp://host[:port]/path")
    return value


class MotionConfig(StrictModel):
    """The motion gate on a small grey picture: which frames are worth a detection."""

    enabled: bool = True
    threshold: int = Field(default=20, ge=1, le=255, description="grey-level change per pixel")
    min_area: float = Field(
        default=0.002, ge=0.0, le=1.0, description="fraction of pixels that must change"
    )
    refresh_s: float = Field(
        default=5.0, gt=0.0, le=600.0, description="send a frame anyway this often"
    )
    hold_s: float = Field(default=2.0, ge=0.0, le=60.0, description="keep sending after motion")
    idle_keyframes_only_after_s: float | None = Field(
        default=10.0,
        gt=0.0,
        le=3600.0,
        description="decode keyframes only once idle this long (None: always every frame)",
    )
    masks: list[list[Point]] = Field(
        default_factory=list, max_length=16, description="polygons ignored (clocks, trees)"
    )
    burst_fps: float = Field(
        default=10.0,
        gt=0.0,
        le=30.0,
        description="when motion starts (or moves somewhere new), sample up to this rate...",
    )
    burst_s: float = Field(default=2.0, ge=0.0, le=30.0, description="...for this long; 0: never")


class PlatesConfig(StrictModel):
    """Licence-plate reading on a camera's vehicle tracks (:mod:`detect.plates`).

    ``stream: detect`` reads the plate in the analysed frame; ``record`` reads it in the
    recorded main stream's frame of the same moment (sub-stream plates are often too small to
    read), which costs decoding up to one GOP of the main stream per crop read.
    """

    enabled: bool = False
    stream: Literal["detect", "record"] = Field(
        default="detect", description="the picture the plate is read in"
    )


class CameraConfig(StrictModel):
    """One camera: where its streams are, how often to analyse it, and its rules."""

    id: Identifier
    name: str = Field(min_length=1, max_length=120)
    area: str = Field(default="", max_length=120)
    detect_url: str = Field(description="stream decoded for analysis (a sub-stream)")
    record_url: str | None = Field(default=None, description="stream recorded (main stream)")
    credentials: Credentials | None = None
    analysis_fps: float | None = Field(default=None, gt=0.0, le=30.0)
    priority: int = Field(default=0, ge=0, le=10)
    enabled: bool = True
    record: bool = True
    motion: MotionConfig = MotionConfig()
    zones: list[Zone] = Field(default_factory=list, max_length=32)
    lines: list[Line] = Field(default_factory=list, max_length=32)
    rules: list[Rule] = Field(default_factory=list, max_length=32)
    plates: PlatesConfig = PlatesConfig()

    @field_validator("detect_url", "record_url")
    @classmethod
    def _rtsp_url(cls, value: str | None) -> str | None:
        return None if value is None else _check_rtsp_url(value)


class DetectorConfig(StrictModel):
    """The shared detection core.

    ``mode`` is the one decision point of what the model looks at: ``frame`` letterboxes every
    analysed frame whole into ``input_size``; ``regions`` looks only where something moved or a
    track is expected (square crops of at least ``region_size``, batched across cameras), with a
    whole-frame pass at start, on the motion gate's periodic refresh and when the regions would
    cover most of the picture (:mod:`detect.regions`).
    """

    backend: Literal["openvino", "onnxruntime"] = "openvino"
    model: str = Field(default="yolov8n.onnx", min_length=1)
    mode: Literal["frame", "regions"] = "frame"
    input_size: int = Field(
        default=640, ge=160, le=1280, multiple_of=32, description="model input in frame mode"
    )
    region_size: int = Field(
        default=320, ge=160, le=1280, multiple_of=32, description="model input in regions mode"
    )
    stationary_recheck_s: float = Field(
        default=5.0,
        gt=0.0,
        le=600.0,
        description="regions mode: a tracked object that does not move is looked at this often",
    )
    in_flight: int = Field(
        default=2, ge=1, le=8, description="batches in inference at once (asynchronous requests)"
    )
    confidence: float = Field(default=0.35, ge=0.01, le=0.99)
    iou: float = Field(default=0.45, ge=0.05, le=0.95)
    max_batch: int = Field(default=8, ge=1, le=64)
    max_wait_ms: float = Field(default=20.0, ge=0.0, le=1000.0)
    threads: int = Field(
        default=2, ge=1, le=64, description="inference threads in all (one per request in flight)"
    )
    stale_after_s: float = Field(default=2.0, gt=0.0, le=60.0)


class IngestConfig(StrictModel):
    """Camera readers; ``workers`` None means one per CPU core."""

    workers: int | None = Field(default=None, ge=1, le=64)
    analysis_fps: float = Field(default=5.0, gt=0.0, le=30.0)
    analysis_size: int = Field(
        default=640, ge=160, le=1920, multiple_of=32, description="long side of analysis frames"
    )
    open_timeout_s: float = Field(default=5.0, gt=0.0, le=60.0)
    read_timeout_s: float = Field(default=5.0, gt=0.0, le=60.0)
    offline_alert_after_s: float = Field(
        default=10.0, ge=0.0, le=3600.0, description="debounce before 'camera offline'"
    )
    tamper_debounce_s: float = Field(
        default=10.0, ge=1.0, le=3600.0, description="a tamper condition must last this long"
    )
    thumbnail_interval_s: float = Field(
        default=10.0, ge=0.0, le=3600.0, description="camera-wall picture this often; 0: none"
    )


class RecordingConfig(StrictModel):
    """Recording of every camera's record stream, remuxed into MP4 segments (no re-encode)."""

    enabled: bool = True
    path: Path = Path("data/recordings")
    segment_s: float = Field(default=60.0, ge=2.0, le=3600.0)
    retain_days: float = Field(default=30.0, gt=0.0, le=3650.0)
    max_disk_gb: float | None = Field(default=None, gt=0.0)
    min_free_gb: float = Field(default=2.0, ge=0.0)
    exports_retain_days: float = Field(
        default=7.0,
        gt=0.0,
        le=3650.0,
        description="evidence exports are deleted this long after they were made, unless"
        " their footage is still on legal hold",
    )


class ReanalysisConfig(StrictModel):
    """Re-analysis: the current rules run again over a recorded range or an uploaded file,
    in a process of its own at low priority (live analysis comes first)."""

    enabled: bool = True
    max_upload_mb: float = Field(
        default=1024.0, gt=0.0, le=100_000.0, description="largest file an operator may upload"
    )
    max_range_h: float = Field(
        default=24.0, gt=0.0, le=744.0, description="longest recorded range one job may cover"
    )
    upload_deadline_s: float = Field(
        default=1800.0,
        ge=1.0,
        le=86400.0,
        description="an upload must arrive whole within this; a slower one is cut off and"
        " its partial file deleted (the default lets 1 GB through at 0.6 MB/s)",
    )
    max_uploads: int = Field(
        default=4, ge=1, le=64, description="uploads received at once, all users together"
    )
    max_uploads_per_user: int = Field(
        default=2, ge=1, le=64, description="uploads one user may send at once"
    )
    max_queued_jobs: int = Field(
        default=100, ge=1, le=10_000, description="jobs waiting in the queue, all users together"
    )
    max_queued_jobs_per_user: int = Field(
        default=20, ge=1, le=10_000, description="jobs one user may have waiting in the queue"
    )
    max_stored_mb_per_user: float = Field(
        default=10_240.0,
        gt=0.0,
        le=10_000_000.0,
        description="uploaded files one user may keep on disk (deleting a job frees its file)",
    )
    threads: int = Field(default=1, ge=1, le=64, description="inference threads of the job runner")
    batch: int = Field(default=4, ge=1, le=64, description="frames per model call")


class StorageConfig(StrictModel):
    """Where the store lives; relative paths are taken from the working directory."""

    database: Path = Path("data/matthan.db")


class TlsConfig(StrictModel):
    """The dashboard's HTTPS identity: PEM files of the site certificate (its chain after it)
    and of its private key; relative paths are taken from the working directory."""

    cert: Path
    key: Path


class DashboardConfig(StrictModel):
    """The station's web page.

    Anywhere but on loopback it is served over HTTPS (``tls``): passwords, session cookies,
    pictures and recordings cross the station LAN. ``allowed_hosts`` are the names the page
    is reached by; a request naming another host is refused (DNS rebinding).
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    tls: TlsConfig | None = Field(default=None, description="serve HTTPS with this certificate")
    redirect_port: int | None = Field(
        default=None, ge=1, le=65535, description="with tls: a plain-HTTP port that only redirects"
    )
    allow_plain_http: bool = Field(
        default=False, description="lab only: plain HTTP on an address the LAN can reach"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        max_length=64,
        description="names and addresses browsers reach the station by, besides localhost"
        " and the host address itself",
    )
    language: Literal["vi", "en"] = Field(
        default="vi", description="language of the login page and of new users"
    )
    public_health: bool = Field(
        default=True,
        description="/healthz and the bare ready-or-not of /readyz without a login; details of"
        " /readyz need a login or the metrics token, /metrics the token or an admin",
    )
    metrics_token_env: str | None = Field(
        default="MATTHAN_METRICS_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="environment variable holding the bearer token of /metrics (never the"
        " token itself); while it is unset only an admin's session may read /metrics",
    )
    session_hours: float = Field(
        default=12.0, gt=0.0, le=168.0, description="a login lasts this long (one shift)"
    )
    idle_timeout_minutes: float = Field(
        default=30.0,
        gt=0.0,
        le=1440.0,
        description="a login no page has used for this long ends (a desk left logged in)",
    )
    login_free_failures: int = Field(
        default=3,
        ge=1,
        le=100,
        description="wrong passwords for one user from one address before each further try"
        " must wait (login_delay_s, doubling)",
    )
    login_delay_s: float = Field(
        default=2.0, ge=0.1, le=3600.0, description="the first wait after login_free_failures"
    )
    login_max_delay_s: float = Field(
        default=300.0, ge=1.0, le=86400.0, description="the longest wait between two tries"
    )
    login_address_failures: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description="wrong passwords from one address, all users together, within"
        " login_address_window_s; more are refused from that address only",
    )
    login_address_window_s: float = Field(
        default=900.0, ge=10.0, le=86400.0, description="window of login_address_failures"
    )
    login_checks_at_once: int = Field(
        default=4,
        ge=1,
        le=64,
        description="passwords checked at once (each costs memory-hard hashing); more wait"
        " their turn as a 503",
    )
    live_peers_per_user: int = Field(
        default=4, ge=1, le=64, description="live views one user may have open at once"
    )
    live_peers_per_site: int = Field(
        default=32, ge=1, le=1024, description="live views the whole station may have open"
    )
    live_connect_timeout_s: float = Field(
        default=20.0, ge=1.0, le=300.0, description="a live view not connected by then is closed"
    )

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, hosts: list[str]) -> list[str]:
        normal = [normal_host(host) for host in hosts]
        bad = [host for host, name in zip(hosts, normal, strict=True) if name is None]
        if bad:
            raise ValueError(f"{bad[0]!r} is neither an IP address nor a host name (no port)")
        return [name for name in normal if name is not None]


class SiteInfo(StrictModel):
    """Who runs this installation."""

    name: str = Field(min_length=1, max_length=120)
    timezone: str = "Asia/Ho_Chi_Minh"


class HubLinkConfig(StrictModel):
    """The district hub this station's NATS server joins as a leaf node (``docs/SCALING.md``).
    The hub reads the station's alert stream over that link; a cut link delays what the hub
    sees, never what the station does."""

    url: str = Field(
        pattern=r"^nats-leaf://[^/\s@:]+:\d{1,5}$",
        description="the hub's leaf-node listener, nats-leaf://host:port",
    )
    token_env: str = Field(
        default="MATTHAN_HUB_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="the environment variable holding the hub token (never the YAML)",
    )
    ca: Path | None = Field(
        default=None,
        description="PEM file of the authority (or the hub's own self-signed certificate) the"
        " station verifies the hub's leaf port by, when the hub serves it over TLS"
        " (hub.tls); unset: the system's authorities",
    )


class SiteTlsConfig(StrictModel):
    """TLS between the machines of one site: the station's NATS server and each node's footage
    server serve ``cert`` with ``key`` (one site certificate naming every machine, the same
    three files on each), and every client verifies them by ``ca`` (the site's authority, or
    that certificate itself). Relative paths are taken from the working directory."""

    cert: Path
    key: Path
    ca: Path


class ClusterConfig(StrictModel):
    """A site over several machines (``docs/SCALING.md``): analysis nodes hold cameras by
    leases and send their alerts to the station over NATS JetStream. Off: one machine does
    everything, and nothing of NATS is loaded."""

    enabled: bool = False
    site_id: str = Field(
        default="site",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="the site's short name on the alert stream (and at a district hub)",
    )
    url: str = Field(
        default="nats://127.0.0.1:4222",
        pattern=r"^nats://[^/\s]+:\d{1,5}$",
        description="the site's NATS server, as the nodes and the station reach it",
    )
    serve: bool = Field(
        default=True,
        description="the station (matthan run) starts the NATS server itself on the url's port",
    )
    lease_s: float = Field(
        default=10.0,
        ge=3.0,
        le=120.0,
        description="how long a node's lease of a camera lasts unrenewed (failover time)",
    )
    token_env: str = Field(
        default="MATTHAN_SITE_TOKEN",
        pattern=r"^[A-Z_][A-Z0-9_]*$",
        description="the environment variable holding the site token (never the YAML)",
    )
    hub: HubLinkConfig | None = Field(
        default=None, description="the district hub the station joins (none: no hub)"
    )
    tls: SiteTlsConfig | None = Field(
        default=None,
        description="TLS on the site's NATS server and the nodes' footage servers (none: plain,"
        " the site token crosses the LAN in clear)",
    )

    @property
    def tls_ca(self) -> Path | None:
        """What the station verifies the nodes' footage servers by (None: plain HTTP)."""
        return None if self.tls is None else self.tls.ca


class SiteConfig(StrictModel):
    """A whole installation: one YAML file."""

    site: SiteInfo
    storage: StorageConfig = StorageConfig()
    dashboard: DashboardConfig = DashboardConfig()
    detector: DetectorConfig = DetectorConfig()
    ingest: IngestConfig = IngestConfig()
    recording: RecordingConfig = RecordingConfig()
    reanalysis: ReanalysisConfig = ReanalysisConfig()
    cluster: ClusterConfig = ClusterConfig()
    cameras: list[CameraConfig] = Field(min_length=1, max_length=2000)

    def analysis_fps(self, camera: CameraConfig) -> float:
        """The camera's own analysis rate, or the site default."""
        return camera.analysis_fps or self.ingest.analysis_fps


Loc = tuple[str | int, ...]


def semantic_issues(site: SiteConfig) -> list[tuple[Loc, str]]:
    """Cross-field problems as (key path, message), in file order."""
    issues = _dashboard_issues(site.dashboard)
    if site.detector.backend == "onnxruntime" and site.detector.model.endswith(".xml"):
        message = "an OpenVINO IR (.xml) needs backend openvino; onnxruntime reads .onnx only"
        issues.append((("detector", "model"), message))
    counts = Counter(camera.id for camera in site.cameras)
    for index, camera in enumerate(site.cameras):
        if counts[camera.id] > 1:
            issues.append((("cameras", index, "id"), f"duplicate camera id {camera.id!r}"))
        issues += _camera_issues(("cameras", index), camera)
        reads_main = camera.plates.enabled and camera.plates.stream == "record"
        if reads_main and not (site.recording.enabled and camera.record):
            message = (
                "reads plates in the recorded main stream, but this camera is not recorded"
                " (recording.enabled and the camera's record must be true), or use"
                " stream: detect"
            )
            issues.append((("cameras", index, "plates", "stream"), message))
    return issues


def _dashboard_issues(config: DashboardConfig) -> list[tuple[Loc, str]]:
    """Plain HTTP where the LAN can listen, a redirect with nothing to redirect to, and a
    wildcard host without the names the station is reached by."""
    issues: list[tuple[Loc, str]] = []
    if config.tls is None and not is_loopback(config.host) and not config.allow_plain_http:
        message = (
            f"{config.host!r} can be reached from the network, and without HTTPS the LAN reads"
            " passwords, cookies and pictures: set dashboard.tls {cert, key}, or listen on"
            " 127.0.0.1 (dashboard.allow_plain_http: true only in a lab)"
        )
        issues.append((("dashboard", "host"), message))
    if config.redirect_port is not None and config.tls is None:
        message = "redirects plain HTTP to HTTPS, which needs dashboard.tls"
        issues.append((("dashboard", "redirect_port"), message))
    elif config.redirect_port == config.port:
        issues.append((("dashboard", "redirect_port"), "must differ from dashboard.port"))
    if is_wildcard(config.host) and not config.allowed_hosts:
        message = (
            f"host {config.host!r} listens on every address: list the names and addresses"
            " browsers use to reach the station (any other Host is refused)"
        )
        issues.append((("dashboard", "allowed_hosts"), message))
    return issues


def _duplicates(base: Loc, what: str, names: list[str]) -> list[tuple[Loc, str]]:
    counts = Counter(names)
    return [
        ((*base, position, "name"), f"duplicate {what} name {name!r}")
        for position, name in enumerate(names)
        if counts[name] > 1
    ]


def _camera_issues(base: Loc, camera: CameraConfig) -> list[tuple[Loc, str]]:
    """Duplicate zone, line and rule names, and rules naming a zone or line that is not there."""
    zones = [zone.name for zone in camera.zones]
    lines = [line.name for line in camera.lines]
    issues = _duplicates((*base, "zones"), "zone", zones)
    issues += _duplicates((*base, "lines"), "line", lines)
    issues += _duplicates((*base, "rules"), "rule", [rule.name for rule in camera.rules])
    for position, rule in enumerate(camera.rules):
        loc: Loc = (*base, "rules", position)
        if isinstance(rule, LineCrossingRule):
            if rule.line not in lines:
                issues.append(((*loc, "line"), f"no line named {rule.line!r} on this camera"))
        elif rule.zone not in zones:
            issues.append(((*loc, "zone"), f"no zone named {rule.zone!r} on this camera"))
    return issues
