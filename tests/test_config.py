"""Config validation: good sites load, and every kind of mistake names file, key and camera."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.config_loader import ConfigError, load_site, parse_site

REPO = Path(__file__).resolve().parents[1]

GOOD = """\
site: {name: Test}
cameras:
  - id: cam-a
    name: A
    detect_url: rtsp://127.0.0.1:8554/a
    zones:
      - name: z
        points: [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]
    rules:
      - {kind: intrusion, name: r, zone: z, classes: [person]}
  - id: cam-b
    name: B
    detect_url: rtsp://127.0.0.1:8554/b
"""


def mutate(edit: str) -> str:
    """Apply one ``key.path=value`` style edit to GOOD through YAML."""
    data = yaml.safe_load(GOOD)
    exec(edit, {"d": data})  # the cases below are literal code, written in this file
    return yaml.safe_dump(data, allow_unicode=True)


BAD_CASES = [
    ("unknown key", "d['cameras'][1]['detect_ulr'] = 'x'", "cameras[1].detect_ulr", "cam-b"),
    ("wrong type", "d['cameras'][0]['analysis_fps'] = 'fast'", "cameras[0].analysis_fps", "cam-a"),
    ("bad fps", "d['cameras'][1]['analysis_fps'] = 0", "cameras[1].analysis_fps", "cam-b"),
    (
        "zone outside the frame",
        "d['cameras'][0]['zones'][0]['points'][2] = [1.4, 0.5]",
        "cameras[0].zones[0].points[2]",
        "cam-a",
    ),
    ("duplicate camera id", "d['cameras'][1]['id'] = 'cam-a'", "cameras[1].id", "cam-a"),
    ("missing URL", "del d['cameras'][1]['detect_url']", "cameras[1].detect_url", "cam-b"),
    (
        "URL not RTSP",
        "d['cameras'][1]['detect_url'] = 'http://x/y'",
        "cameras[1].detect_url",
        "cam-b",
    ),
    (
        "password in URL",
        "d['cameras'][1]['detect_url'] = 'rtsp://admin:secret@10.0.0.1/live'",
        "cameras[1].detect_url",
        "cam-b",
    ),
    (
        "rule names a missing zone",
        "d['cameras'][0]['rules'][0]['zone'] = 'nowhere'",
        "cameras[0].rules[0].zone",
        "cam-a",
    ),
    (
        "unknown class",
        "d['cameras'][0]['rules'][0]['classes'] = ['persn']",
        "cameras[0].rules[0].classes",
        "cam-a",
    ),
    (
        "zone with two points",
        "d['cameras'][0]['zones'][0]['points'] = [[0, 0], [1, 1]]",
        "cameras[0].zones[0].points",
        "cam-a",
    ),
    (
        "unknown rule kind",
        "d['cameras'][0]['rules'][0]['kind'] = 'teleport'",
        "cameras[0].rules[0].kind",
        "cam-a",
    ),
    ("no cameras", "d['cameras'] = []", "cameras", None),
    ("input size not /32", "d['detector'] = {'input_size': 500}", "detector.input_size", None),
    ("bad id characters", "d['cameras'][0]['id'] = 'Cam A'", "cameras[0].id", "Cam A"),
    ("missing site", "del d['site']", "site", None),
    ("unknown top-level key", "d['camreas'] = []", "camreas", None),
    ("segment too short", "d['recording'] = {'segment_s': 1}", "recording.segment_s", None),
    ("negative free space", "d['recording'] = {'min_free_gb': -1}", "recording.min_free_gb", None),
    ("port out of range", "d['dashboard'] = {'port': 70000}", "dashboard.port", None),
    (
        "negative thumbnail interval",
        "d['ingest'] = {'thumbnail_interval_s': -1}",
        "ingest.thumbnail_interval_s",
        None,
    ),
    ("unknown backend", "d['detector'] = {'backend': 'tensorflow'}", "detector.backend", None),
    (
        "password written in the config",
        "d['cameras'][1]['credentials'] = {'username_env': 'CAM_USER', 'password': 'x'}",
        "cameras[1].credentials",
        "cam-b",
    ),
    (
        "hour out of range",
        "d['cameras'][0]['rules'][0]['schedule'] = {'start': '25:00', 'end': '05:00'}",
        "cameras[0].rules[0].schedule.start",
        "cam-a",
    ),
    (
        "line of one point twice",
        "d['cameras'][0]['lines'] = [{'name': 'l', 'points': [[0.5, 0.5], [0.5, 0.5]]}]",
        "cameras[0].lines[0].points",
        "cam-a",
    ),
    (
        "rule names a missing line",
        "d['cameras'][0]['rules'].append({'kind': 'line_crossing', 'name': 'x', 'line': 'l'})",
        "cameras[0].rules[1].line",
        "cam-a",
    ),
    (
        "duplicate zone name",
        "d['cameras'][0]['zones'].append(d['cameras'][0]['zones'][0])",
        "cameras[0].zones[1].name",
        "cam-a",
    ),
    (
        "crowd of one",
        "d['cameras'][0]['rules'][0].update(kind='crowd', min_count=1)",
        "cameras[0].rules[0].min_count",
        "cam-a",
    ),
    (
        "plates read on a main stream that is not recorded",
        "d['cameras'][1].update(record=False, plates={'enabled': True, 'stream': 'record'})",
        "cameras[1].plates.stream",
        "cam-b",
    ),
    (
        "plates read on an unknown stream",
        "d['cameras'][0]['plates'] = {'enabled': True, 'stream': 'main'}",
        "cameras[0].plates.stream",
        "cam-a",
    ),
    (
        "motion threshold zero",
        "d['cameras'][1]['motion'] = {'threshold': 0}",
        "cameras[1].motion.threshold",
        "cam-b",
    ),
]


@pytest.mark.parametrize(
    ("edit", "key", "camera"), [case[1:] for case in BAD_CASES], ids=[c[0] for c in BAD_CASES]
)
def test_bad_config_names_key_and_camera(edit: str, key: str, camera: str | None) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_site(mutate(edit), Path("site.yaml"))
    issues = caught.value.issues
    assert any(issue.key.startswith(key) for issue in issues), [str(i) for i in issues]
    issue = next(issue for issue in issues if issue.key.startswith(key))
    assert issue.camera == camera
    assert issue.line is not None
    assert str(issue).startswith(f"site.yaml:{issue.line}: {key}")
    if "points" in key and "[2]" in key:
        assert "outside the frame" in issue.message


def test_good_config_loads() -> None:
    site = parse_site(GOOD, Path("good.yaml"))
    assert [camera.id for camera in site.cameras] == ["cam-a", "cam-b"]
    assert site.analysis_fps(site.cameras[1]) == 5.0
    assert site.ingest.thumbnail_interval_s == 10.0  # 0 turns the camera-wall pictures off


def test_line_number_points_at_the_key() -> None:
    text = GOOD.replace("    name: B\n", "    name: B\n    colour: red\n")
    with pytest.raises(ConfigError) as caught:
        parse_site(text, Path("s.yaml"))
    (issue,) = caught.value.issues
    assert issue.key == "cameras[1].colour"
    assert text.splitlines()[issue.line - 1].strip() == "colour: red"


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_site("cameras: [\n", Path("broken.yaml"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_site(tmp_path / "absent.yaml")


@pytest.mark.parametrize("name", ["battrang.yaml", "demo.yaml"])
def test_shipped_configs_pass(name: str) -> None:
    site = load_site(REPO / "configs" / name)
    assert len({camera.id for camera in site.cameras}) == len(site.cameras)


def test_battrang_is_a_real_site() -> None:
    site = load_site(REPO / "configs" / "battrang.yaml")
    assert len(site.cameras) >= 120
    assert all(camera.credentials is not None for camera in site.cameras)
    assert all(camera.record_url for camera in site.cameras)
    text = (REPO / "configs" / "battrang.yaml").read_text(encoding="utf-8")
    assert "Bát Tràng" in text
    assert "@" not in text


def test_check_config_command(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "matthan.cli", "check-config", str(REPO / "configs/battrang.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "122 cameras" in ok.stdout or "cameras" in ok.stdout
    broken = tmp_path / "broken.yaml"
    text = (REPO / "configs/battrang.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("analysis_fps: 3", "analysis_fps: -3", 1), encoding="utf-8")
    bad = subprocess.run(
        [sys.executable, "-m", "matthan.cli", "check-config", str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "analysis_fps" in bad.stderr
    assert "(camera 'bt-cho-gom-bat-trang')" in bad.stderr
