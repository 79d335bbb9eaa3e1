"""Slowing password guessing down without letting anyone lock a user out.

User names are no secret (every viewer sees them), so a limit per user name would let
anyone on the LAN lock every operator out during an incident. The limits here are keyed
so that a guesser only ever slows himself down:

* per (address, user name): after ``login_free_failures`` wrong passwords, each further
  try must wait ``login_delay_s``, doubling up to ``login_max_delay_s``. A try inside the
  wait is refused (429 with ``Retry-After``) without checking the password, and one pair
  never has two checks under way at once: a second try waits for the first's outcome (two
  browser tabs logging in together both get in), and past :data:`WAITING_PER_PAIR` waiting
  tries a further one is refused at once, so a flood cannot hold the server's threads. The
  same user from another address is not slowed at all.
* per address: ``login_address_failures`` wrong passwords within
  ``login_address_window_s``, all user names together (guessing many users at once).
* for the whole site: ``login_checks_at_once`` password checks in flight; a further one
  is answered 503 (try again in a second), so a flood cannot exhaust memory or threads.

Admission and the outcome are decided under one lock, and an admitted try holds its
place in every limit until its outcome is known, so parallel requests cannot slip
past a check that the failures of the others would have failed. The state is in memory
(one dashboard process): a restart forgets it, which costs a guesser nothing he could
not have had by waiting.

Refused tries are counted per (address, user name) and handed out once per
:data:`REPORT_EVERY_S` as one :class:`RefusalReport` each, so the audit log gets one row
with a count instead of a row per refused request.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from common.config import DashboardConfig

REPORT_EVERY_S = 300.0
"""Refused tries of one (address, user name) within this long make one report."""
WAITING_PER_PAIR = 2
"""Tries of one (address, user name) that may wait for the one being checked."""
WAIT_FOR_CHECK_S = 5.0
"""How long such a try waits at most before it is refused."""
MAX_PAIRS = 10_000
"""Pairs remembered at most; past this the longest-quiet ones are forgotten first."""


class LoginThrottledError(Exception):
    """A login try refused before its password was checked.

    ``status`` is 429 (this address must wait) or 503 (the site is busy checking other
    passwords); ``retry_after_s`` is when trying again makes sense.
    """

    def __init__(self, status: int, retry_after_s: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """The limits, from ``dashboard.login_*``."""

    free_failures: int
    first_delay_s: float
    max_delay_s: float
    address_failures: int
    address_window_s: float
    checks_at_once: int

    @classmethod
    def of(cls, config: DashboardConfig) -> ThrottlePolicy:
        return cls(
            free_failures=config.login_free_failures,
            first_delay_s=config.login_delay_s,
            max_delay_s=config.login_max_delay_s,
            address_failures=config.login_address_failures,
            address_window_s=config.login_address_window_s,
            checks_at_once=config.login_checks_at_once,
        )

    def delay_after(self, failures: int) -> float:
        """How long the next try waits after ``failures`` wrong passwords in a row."""
        if failures < self.free_failures:
            return 0.0
        doublings = min(failures - self.free_failures, 32)
        return min(self.first_delay_s * 2.0**doublings, self.max_delay_s)


@dataclass(frozen=True, slots=True)
class RefusalReport:
    """Tries of one user name from one address refused in one window (wall-clock times)."""

    address: str
    username: str
    count: int
    first_at: float
    last_at: float


@dataclass(slots=True)
class _Pair:
    failures: int = 0
    wait_until: float = 0.0
    last_failure: float = 0.0
    checking: bool = False
    waiting: int = 0


@dataclass(slots=True)
class _Address:
    failures: deque[float] = field(default_factory=deque)
    checking: int = 0


@dataclass(slots=True)
class _Refused:
    count: int
    first_at: float
    last_at: float
    opened: float


@dataclass(slots=True)
class LoginAttempt:
    """An admitted try: say how it went with :meth:`failed`; a success needs nothing."""

    address: str
    username: str
    wrong_password: bool = False

    def failed(self) -> None:
        self.wrong_password = True


class LoginThrottle:
    """The limits of :mod:`dashboard.services.login_throttle` over one process's login tries.

    ``policy`` defaults to the config's defaults; ``clock`` (monotonic seconds) and
    ``wall`` (epoch seconds, for reports) are injectable for tests.
    """

    def __init__(
        self,
        policy: ThrottlePolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy or ThrottlePolicy.of(DashboardConfig())
        self._clock = clock
        self._wall = wall
        self._lock = threading.Condition()
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._addresses: dict[str, _Address] = {}
        self._checking = 0
        self._refused: dict[tuple[str, str], _Refused] = {}

    @contextmanager
    def attempt(self, address: str, username: str) -> Iterator[LoginAttempt]:
        """Admit one try (else :class:`LoginThrottledError`) and settle it on leaving.

        The caller checks the password inside and calls :meth:`LoginAttempt.failed` on a
        wrong one. A try that ends in an exception counts as neither right nor wrong.
        """
        attempt = self._admit(address, username)
        settled = False
        try:
            yield attempt
            settled = True
        finally:
            self._settle(attempt, counted=settled)

    def note_refusal(self, address: str, username: str) -> None:
        """Count a refused try for the next report (``username`` as it may be logged)."""
        now, wall = self._clock(), self._wall()
        with self._lock:
            refused = self._refused.get((address, username))
            if refused is None:
                self._refused[(address, username)] = _Refused(1, wall, wall, now)
            else:
                refused.count += 1
                refused.last_at = wall

    def due_reports(self, everything: bool = False) -> list[RefusalReport]:
        """Counts whose window has closed (all of them with ``everything``), forgotten here."""
        now = self._clock()
        with self._lock:
            due = [
                key
                for key, refused in self._refused.items()
                if everything or now - refused.opened >= REPORT_EVERY_S
            ]
            taken = [(key, self._refused.pop(key)) for key in due]
        return [
            RefusalReport(address, username, refused.count, refused.first_at, refused.last_at)
            for (address, username), refused in taken
        ]

    def _admit(self, address: str, username: str) -> LoginAttempt:
        with self._lock:
            pair = self._after_check_under_way(address, username)
            now = self._clock()
            if now < pair.wait_until:
                wait = math.ceil(pair.wait_until - now)
                raise LoginThrottledError(429, wait, "too many wrong passwords; wait")
            place = self._address(address, now)
            if len(place.failures) + place.checking >= self.policy.address_failures:
                oldest = place.failures[0] if place.failures else now
                wait = max(1, math.ceil(oldest + self.policy.address_window_s - now))
                raise LoginThrottledError(429, wait, "too many wrong passwords from here")
            if self._checking >= self.policy.checks_at_once:
                raise LoginThrottledError(503, 1, "busy checking other logins")
            pair.checking, place.checking = True, place.checking + 1
            self._checking += 1
        return LoginAttempt(address, username)

    def _after_check_under_way(self, address: str, username: str) -> _Pair:
        """The pair's record once no check of it is under way (held under the lock): waits
        for the one under way, unless too many wait already or it takes too long."""
        deadline = time.monotonic() + WAIT_FOR_CHECK_S
        while True:
            pair = self._pair(address, username, self._clock())
            if not pair.checking:
                return pair
            left = deadline - time.monotonic()
            if pair.waiting >= WAITING_PER_PAIR or left <= 0:
                raise LoginThrottledError(429, 1, "a login for this user is being checked")
            pair.waiting += 1
            try:
                self._lock.wait(left)
            finally:
                pair.waiting -= 1

    def _settle(self, attempt: LoginAttempt, counted: bool) -> None:
        now = self._clock()
        key = (attempt.address, attempt.username)
        with self._lock:
            self._lock.notify_all()
            self._checking -= 1
            place = self._addresses[attempt.address]
            place.checking -= 1
            pair = self._pairs[key]
            pair.checking = False
            if not counted:
                return
            if not attempt.wrong_password:
                if pair.waiting:
                    pair.failures, pair.wait_until = 0, 0.0  # its waiters still hold it
                else:
                    del self._pairs[key]
                return
            pair.failures += 1
            pair.last_failure = now
            pair.wait_until = now + self.policy.delay_after(pair.failures)
            place.failures.append(now)

    def _pair(self, address: str, username: str, now: float) -> _Pair:
        """The pair's record; its failures are forgotten after a quiet address window."""
        pair = self._pairs.get((address, username))
        if pair is None:
            if len(self._pairs) >= MAX_PAIRS:
                self._forget_quiet_pairs()
            pair = self._pairs[(address, username)] = _Pair()
        elif not pair.checking and now - pair.last_failure > self._quiet_s():
            pair.failures, pair.wait_until = 0, 0.0
        return pair

    def _address(self, address: str, now: float) -> _Address:
        place = self._addresses.setdefault(address, _Address())
        while place.failures and now - place.failures[0] >= self.policy.address_window_s:
            place.failures.popleft()
        return place

    def _quiet_s(self) -> float:
        return max(self.policy.address_window_s, self.policy.max_delay_s)

    def _forget_quiet_pairs(self) -> None:
        """Drop idle pairs, the longest-quiet half first (held under the lock)."""
        idle = sorted(
            (pair.last_failure, key)
            for key, pair in self._pairs.items()
            if not pair.checking and not pair.waiting
        )
        for _, key in idle[: max(1, len(idle) // 2)]:
            del self._pairs[key]
        self._addresses = {
            address: place
            for address, place in self._addresses.items()
            if place.failures or place.checking
        }
