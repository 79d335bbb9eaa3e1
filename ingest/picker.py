"""Which decoded frames go to analysis: the sampling grid, bursts and the motion gate, in one place.

The live camera reader, re-analysis, the recall benchmark and the tests all pick frames with
this class, so that what is analysed in one is what would be analysed in the others:

1. the sampler keeps frames on a grid of the analysis rate (:class:`~ingest.decode.BurstSampler`);
2. the motion gate judges each sampled frame on its small grey picture
   (:class:`~ingest.motion.MotionGate`) and says which boxes moved;
3. motion that starts after stillness opens a burst: for ``burst_s`` the sampler keeps frames at
   up to ``burst_fps``, so that a short event (something crossing the picture in under a second)
   is seen often enough to be tracked.
"""

from __future__ import annotations

from common.config import MotionConfig
from ingest.decode import BurstSampler
from ingest.motion import Grey, MotionGate, Verdict


class AnalysisPicker:
    """Picks one camera's analysis frames; feed it every decoded frame's time, in order."""

    def __init__(self, fps: float, motion: MotionConfig) -> None:
        self.sampler = BurstSampler(fps, motion.burst_fps, motion.burst_s)
        self.gate = MotionGate(motion)

    def due(self, t: float) -> bool:
        """Whether the frame at stream time ``t`` is sampled (then :meth:`judge` it)."""
        return self.sampler.due(t)

    def judge(self, grey: Grey, t: float) -> tuple[Verdict, bool]:
        """The gate's verdict on a sampled frame, and whether it started a burst."""
        verdict = self.gate.check(grey, t)
        started = verdict.new_motion and self.sampler.burst(t)
        return verdict, started

    def bursting(self, t: float) -> bool:
        return self.sampler.bursting(t)

    def idle_for(self, t: float) -> float:
        """Seconds since the gate last saw motion."""
        return self.gate.idle_for(t)
