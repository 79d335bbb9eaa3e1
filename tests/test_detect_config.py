"""Config validation of every rule kind: good rules load, mistakes name file, line, key, camera."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from common.config import CrowdRule, IntrusionRule, LineCrossingRule, LoiteringRule
from common.config_loader import ConfigError, parse_site

NIGHT = {"start": "22:00", "end": "05:00"}
GOOD = {
    "site": {"name": "Test"},
    "cameras": [
        {
            "id": "cong",
            "name": "Cổng",
            "detect_url": "rtsp://127.0.0.1:8554/cong",
            "zones": [{"name": "san", "points": [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9]]}],
            "lines": [{"name": "vach", "points": [[0.5, 0.0], [0.5, 1.0]], "in_side": "right"}],
            "rules": [
                {"kind": "intrusion", "name": "dot-nhap", "zone": "san", "schedule": NIGHT},
                {
                    "kind": "loitering",
                    "name": "lang-vang",
                    "zone": "san",
                    "min_dwell_s": 60,
                    "schedule": NIGHT,
                },
                {
                    "kind": "line_crossing",
                    "name": "qua-vach",
                    "line": "vach",
                    "direction": "in",
                    "classes": ["person", "motorcycle"],
                    "schedule": NIGHT,
                },
                {
                    "kind": "crowd",
                    "name": "tu-tap",
                    "zone": "san",
                    "min_count": 5,
                    "min_duration_s": 10,
                    "severity": "critical",
                    "schedule": NIGHT,
                },
            ],
        }
    ],
}


def text(edit: str = "") -> str:
    """GOOD as YAML after one literal edit of ``d`` (the parsed document)."""
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    exec(edit, {"d": data})  # the cases below are literal code, written in this file
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_every_rule_kind_loads_with_a_schedule() -> None:
    site = parse_site(text(), Path("site.yaml"))
    rules = site.cameras[0].rules
    kinds = [type(rule) for rule in rules]
    assert kinds == [IntrusionRule, LoiteringRule, LineCrossingRule, CrowdRule]
    assert all(rule.schedule is not None for rule in rules)
    line = site.cameras[0].lines[0]
    assert line.in_side == "right"
    assert isinstance(rules[2], LineCrossingRule)
    assert rules[2].direction == "in"


RULE = "d['cameras'][0]['rules']"
BAD = [
    ("loitering without dwell", f"del {RULE}[1]['min_dwell_s']", "rules[1].min_dwell_s", None),
    ("dwell under a second", f"{RULE}[1]['min_dwell_s'] = 0.5", "rules[1].min_dwell_s", None),
    ("line that is not there", f"{RULE}[2]['line'] = 'cong-sau'", "rules[2].line", "no line"),
    ("zone key on a line rule", f"{RULE}[2]['zone'] = 'san'", "rules[2].zone", "Extra"),
    ("bad direction", f"{RULE}[2]['direction'] = 'up'", "rules[2].direction", "'in'"),
    ("crowd of one", f"{RULE}[3]['min_count'] = 1", "rules[3].min_count", None),
    ("crowd zone missing", f"{RULE}[3]['zone'] = 'cho'", "rules[3].zone", "no zone"),
    ("unknown kind", f"{RULE}[3]['kind'] = 'stampede'", "rules[3].kind", "does not match"),
    ("duplicate rule name", f"{RULE}[3]['name'] = 'dot-nhap'", "rules[3].name", "duplicate"),
    (
        "schedule typo",
        f"{RULE}[1]['schedule'] = {{'start': '22:00', 'ned': '05:00'}}",
        "rules[1].schedule",
        None,
    ),
    (
        "line point outside",
        "d['cameras'][0]['lines'][0]['points'][1] = [0.5, 1.2]",
        "lines[0].points[1]",
        "outside the frame",
    ),
    (
        "line too short",
        "d['cameras'][0]['lines'][0]['points'] = [[0.5, 0.5], [0.505, 0.5]]",
        "lines[0].points",
        "0.02",
    ),
    ("bad side", "d['cameras'][0]['lines'][0]['in_side'] = 'north'", "lines[0].in_side", None),
    (
        "duplicate line",
        "d['cameras'][0]['lines'].append({'name': 'vach', 'points': [[0, 0], [1, 1]]})",
        "lines[1].name",
        "duplicate line",
    ),
]


@pytest.mark.parametrize(("edit", "key", "words"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_rule_names_key_line_and_camera(edit: str, key: str, words: str | None) -> None:
    source = text(edit)
    with pytest.raises(ConfigError) as caught:
        parse_site(source, Path("site.yaml"))
    full_key = f"cameras[0].{key}"
    issues = [issue for issue in caught.value.issues if issue.key.startswith(full_key)]
    assert issues, [str(issue) for issue in caught.value.issues]
    issue = issues[0]
    assert issue.camera == "cong"
    assert issue.line is not None
    assert str(issue).startswith(f"site.yaml:{issue.line}: {full_key}")
    if words is not None:
        assert words in issue.message, str(issue)
