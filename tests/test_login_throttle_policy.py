"""The login throttle's arithmetic on a fake clock: waits that double per (address, user
name) up to the longest, a budget per address across user names, and refusal counts
reported once per window (the API-level tests are in ``test_login_throttle.py``)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from common.config import DashboardConfig
from dashboard.services.login_throttle import (
    REPORT_EVERY_S,
    LoginThrottle,
    LoginThrottledError,
    ThrottlePolicy,
)

GUESSER = "10.0.0.66"
DESK = "10.0.0.7"
FREE_FAILURES = 3


class FakeClock:
    """Seconds that pass only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def throttle_on(clock: FakeClock, **limits: float) -> LoginThrottle:
    policy = replace(ThrottlePolicy.of(DashboardConfig()), **limits)
    return LoginThrottle(policy, clock=clock, wall=clock)


def wrong_password(throttle: LoginThrottle, address: str, username: str) -> None:
    with throttle.attempt(address, username) as attempt:
        attempt.failed()


def refusal(throttle: LoginThrottle, address: str, username: str) -> LoginThrottledError:
    with pytest.raises(LoginThrottledError) as refused:
        wrong_password(throttle, address, username)
    return refused.value


def test_waits_double_up_to_the_longest_and_a_right_password_clears_them() -> None:
    clock = FakeClock()
    throttle = throttle_on(clock)
    for _ in range(FREE_FAILURES):
        wrong_password(throttle, GUESSER, "operator")
    waits = []
    for _ in range(10):
        refused = refusal(throttle, GUESSER, "operator")
        assert refused.status == 429
        waits.append(refused.retry_after_s)
        clock.now += refused.retry_after_s
        wrong_password(throttle, GUESSER, "operator")
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    wrong_password(throttle, DESK, "operator")  # another desk is not slowed
    clock.now += 300
    with throttle.attempt(GUESSER, "operator"):
        pass  # the right password
    for _ in range(FREE_FAILURES):
        wrong_password(throttle, GUESSER, "operator")


def test_one_address_has_a_budget_across_user_names() -> None:
    clock = FakeClock()
    throttle = throttle_on(clock, address_failures=5, address_window_s=600.0)
    for name in ("a1", "a2", "a3", "a4", "a5"):
        wrong_password(throttle, GUESSER, name)
    refused = refusal(throttle, GUESSER, "a6")
    assert (refused.status, refused.retry_after_s) == (429, 600)
    wrong_password(throttle, DESK, "a6")
    clock.now += 600
    wrong_password(throttle, GUESSER, "a6")


def test_refusals_are_reported_once_per_window() -> None:
    clock = FakeClock()
    throttle = throttle_on(clock)
    for _ in range(5):
        throttle.note_refusal(GUESSER, "operator")
    throttle.note_refusal(DESK, "")
    assert throttle.due_reports() == []
    clock.now += REPORT_EVERY_S
    reports = {(r.address, r.username, r.count) for r in throttle.due_reports()}
    assert reports == {(DESK, "", 1), (GUESSER, "operator", 5)}
    assert throttle.due_reports(everything=True) == []
