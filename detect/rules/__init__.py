"""Rules turn each analysed frame's tracked detections into the few alerts an operator should see.

A rule is a function of the frames it has seen, in the spirit of supervision's ``PolygonZone``
and ``LineZone``: zones and lines answer with masks over the frame's detections, and the rule
turns those masks into :class:`RuleEvent` values (``START`` / ``END`` of an alert, or
``SUPPRESSED`` while it cools down). Four kinds exist:

* ``intrusion`` (:mod:`.dwell`): a track's feet in a zone for ``min_presence_s``;
* ``loitering`` (:mod:`.dwell`): a track in a zone for ``min_dwell_s``;
* ``line_crossing`` (:mod:`.crossing`): a track crossing a line in a direction;
* ``crowd`` (:mod:`.crowd`): at least ``min_count`` tracks in a zone for ``min_duration_s``.

Common to all: a track fires a rule at most once; after an alert the rule is quiet on that
camera for ``cooldown_s``; a ``schedule`` gates firing (see :mod:`.camera`). Rules never see
pixels; :mod:`detect.alerts` turns their events into stored alerts with pictures.
"""

from detect.rules.camera import CameraRules
from detect.rules.dwell import GONE_AFTER_S
from detect.rules.events import Phase, RuleEvent, TrackedFrame

__all__ = ["GONE_AFTER_S", "CameraRules", "Phase", "RuleEvent", "TrackedFrame"]
