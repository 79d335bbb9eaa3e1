"""Read a site YAML file and turn every problem into a message that names file, line and key.

A station operator edits the YAML by hand; when it is wrong, the error must say exactly
where: ``configs/site.yaml:42: cameras[17].zones[0].points[2] (camera 'cong-lang'): ...``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from common.config import RULE_KINDS, Loc, SiteConfig, semantic_issues
from common.hub_config import HubConfig


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One thing wrong with a config file: where it is, and what is wrong."""

    path: str
    line: int | None
    key: str
    camera: str | None
    message: str
    value: str | None = None

    def __str__(self) -> str:
        line = f":{self.line}" if self.line is not None else ""
        where = f" (camera {self.camera!r})" if self.camera else ""
        got = f" [got {self.value}]" if self.value is not None else ""
        return f"{self.path}{line}: {self.key}{where}: {self.message}{got}"


class ConfigError(ValueError):
    """A config file that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, file: Path, issues: list[ConfigIssue]) -> None:
        self.file = file
        self.issues = issues
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"{file}: {len(issues)} problem(s) in the configuration:\n{lines}")


def format_loc(loc: Loc) -> str:
    """``('cameras', 17, 'zones', 0)`` -> ``cameras[17].zones[0]``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _line_index(node: yaml.Node, loc: Loc, index: dict[Loc, int]) -> None:
    index[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            index[(*loc, key)] = key_node.start_mark.line + 1
            _line_index(value_node, (*loc, key), index)
            index[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for position, item in enumerate(node.value):
            _line_index(item, (*loc, position), index)


def _nearest_line(index: dict[Loc, int], loc: Loc) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in index:
            return index[loc[:cut]]
    return None


def _camera_of(raw: Any, loc: Loc) -> str | None:
    if len(loc) < 2 or loc[0] != "cameras" or not isinstance(loc[1], int):
        return None
    cameras = raw.get("cameras") if isinstance(raw, dict) else None
    if not isinstance(cameras, list) or loc[1] >= len(cameras):
        return None
    camera = cameras[loc[1]]
    camera_id = camera.get("id") if isinstance(camera, dict) else None
    return str(camera_id) if camera_id is not None else f"#{loc[1]}"


def _issue(file: Path, raw: Any, lines: dict[Loc, int], loc: Loc, message: str) -> ConfigIssue:
    return ConfigIssue(
        path=str(file),
        line=_nearest_line(lines, loc),
        key=format_loc(loc),
        camera=_camera_of(raw, loc),
        message=message,
    )


M = TypeVar("M", bound=BaseModel)


def _validated(model: type[M], text: str, file: Path, expected: str) -> M:
    """``text`` parsed and validated as ``model``; :class:`ConfigError` lists every problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        issue = ConfigIssue(str(file), line, "(file)", None, f"not valid YAML: {exc}")
        raise ConfigError(file, [issue]) from None
    lines: dict[Loc, int] = {}
    if node is not None:
        _line_index(node, (), lines)
    if not isinstance(raw, dict):
        issue = _issue(file, raw, lines, (), f"expected a mapping with {expected}")
        raise ConfigError(file, [issue])
    try:
        config = model.model_validate(raw)
    except ValidationError as exc:
        issues = []
        for error in exc.errors(include_url=False):
            loc = _strip_union_tags(tuple(error["loc"]), error["type"])
            issue = _issue(file, raw, lines, loc, _friendly(loc, error["type"], error["msg"]))
            value = None if error["type"] == "missing" else _short(error.get("input"))
            issues.append(_with_value(issue, value))
        raise ConfigError(file, issues) from None
    if isinstance(config, SiteConfig):
        semantic = [_issue(file, raw, lines, loc, msg) for loc, msg in semantic_issues(config)]
        if semantic:
            raise ConfigError(file, semantic)
    return config


def parse_site(text: str, file: Path) -> SiteConfig:
    """Validate a site's YAML text; raise :class:`ConfigError` listing every problem."""
    return _validated(SiteConfig, text, file, "site: and cameras:")


def parse_hub(text: str, file: Path) -> HubConfig:
    """Validate a district hub's YAML text (:mod:`common.hub_config`)."""
    return _validated(HubConfig, text, file, "hub: and stations:")


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except OSError as exc:
        issue = ConfigIssue(str(file), None, "(file)", None, f"cannot read: {exc.strerror}")
        raise ConfigError(file, [issue]) from None


def load_site(file: Path) -> SiteConfig:
    """Read and validate a site file."""
    return parse_site(_read(file), file)


def load_hub(file: Path) -> HubConfig:
    """Read and validate a district hub's file."""
    return parse_hub(_read(file), file)


def is_hub_file(file: Path) -> bool:
    """Whether ``file`` is a hub's config (its top level has ``hub:``), not a site's."""
    try:
        raw = yaml.safe_load(_read(file))
    except yaml.YAMLError:
        return False
    return isinstance(raw, dict) and "hub" in raw


def _friendly(loc: Loc, error_type: str, message: str) -> str:
    """Say what pydantic's generic message means for the key at hand."""
    if "points" in loc and error_type in {"less_than_equal", "greater_than_equal"}:
        return "point outside the frame: zone points are fractions of the picture, 0..1"
    return message


def _strip_union_tags(loc: Loc, error_type: str) -> Loc:
    """Pydantic puts the union member's tag into the path (``rules.0.intrusion.zone``), and
    places an unknown tag on the rule itself: name the ``kind`` key instead."""
    if error_type in {"union_tag_invalid", "union_tag_not_found"}:
        return (*loc, "kind")
    return tuple(part for part in loc if part not in RULE_KINDS)


def _short(value: object) -> str | None:
    if isinstance(value, dict | list):
        return None
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _with_value(issue: ConfigIssue, value: str | None) -> ConfigIssue:
    return dataclasses.replace(issue, value=value)
