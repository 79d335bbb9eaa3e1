"""Alerts to phones: each new alert pushed to the browsers that want it (Web Push, RFC 8030).

The sender listens to the dashboard's alert notices (the :class:`~common.bus.EventBus` fed by
the notice pump; a review's ``updated`` notice is not pushed) and hands each new alert's id to
one worker thread, since sending blocks on the network. The hand-over is a bounded queue with
a named drop policy, :attr:`DropPolicy.NEWEST`: when :attr:`PushPolicy.queue_size` alerts
already wait, the new one is not pushed, counted in ``matthan_push_dropped_total``; phones are
a second way to learn of alerts, the dashboard's own feed still shows it.

The worker reads the alert from the store, finds the subscriptions that want it
(:mod:`dashboard.services.push_match`) and sends each push with :func:`pywebpush.webpush`, which
encrypts it for that browser (RFC 8291, ``aes128gcm``) and signs the VAPID header with the
dashboard's key (:mod:`dashboard.services.push_keys`). A push the service could not take now (a
network error, 429, 5xx) is tried again after a growing pause, :attr:`PushPolicy.tries` times
at most; a 404 or 410 means the browser is gone: its subscription is removed. Every outcome is
counted: ``matthan_push_sent_total``, ``matthan_push_failed_total{reason}``,
``matthan_push_retries_total``.

Only alerts stored while the dashboard runs are pushed: one made while it was down is in the
feed when it comes back, not on phones.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from prometheus_client import Counter
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]

from common import alert_rows, push_subscriptions
from common.bus import EventBus
from common.channel import DropPolicy
from common.messages import AlertNotice
from dashboard.services.push_keys import VapidKeys, key_path, load_or_make
from dashboard.services.push_match import Push, pushes_for
from dashboard.state import DashboardState

log = logging.getLogger(__name__)

PUSH_SENT = Counter(
    "matthan_push_sent", "Alert pushes a push service accepted (one per alert and browser)"
)
PUSH_FAILED = Counter(
    "matthan_push_failed",
    "Alert pushes given up, by reason: gone (404/410, the subscription is removed), rejected"
    " (another 4xx or a bad subscription), unavailable (429/5xx after every try), network"
    " (no answer after every try)",
    ["reason"],
)
PUSH_RETRIES = Counter(
    "matthan_push_retries", "Alert pushes tried again after a network error, 429 or 5xx"
)
PUSH_DROPPED = Counter(
    "matthan_push_dropped",
    "New alerts not pushed because the push queue was full (drop newest)",
)


class Failure(StrEnum):
    """Why a push was given up: the ``reason`` label of ``matthan_push_failed_total``."""

    GONE = "gone"
    REJECTED = "rejected"
    UNAVAILABLE = "unavailable"
    NETWORK = "network"


@dataclass(frozen=True, slots=True)
class PushPolicy:
    """How the sender sends."""

    tries: int = 3
    """Sends of one push at most, the first included."""
    first_pause_s: float = 0.5
    """The pause before the second try; it doubles before each next one."""
    timeout_s: float = 5.0
    """How long one send waits for the push service."""
    ttl_s: int = 3600
    """How long a push service keeps a push for a phone that is off: an alert an hour old
    is history, not news."""
    queue_size: int = 100
    """New alerts waiting for the worker at most (then drop newest)."""
    contact: str = "mailto:matthan@localhost"
    """The VAPID ``sub`` claim: whom a push service may write to about our pushes."""
    allow_http_loopback: bool = False
    """Whether a subscription may name a plain-http endpoint on this machine (127.0.0.1,
    ::1, localhost). Only tests turn it on: their push endpoint decrypts what it gets. Every
    other endpoint must be https (:mod:`dashboard.schemas.push`)."""


RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
GONE_STATUSES = frozenset({404, 410})
_STOP = -1


class PushSender:
    """Start with ``await sender.start(bus)`` on the app's loop, stop with ``await
    sender.stop()``; :meth:`notice` may be called directly (tests, other publishers)."""

    def __init__(self, state: DashboardState, keys: VapidKeys, policy: PushPolicy) -> None:
        self.keys = keys
        self.policy = policy
        self._state = state
        self._vapid = Vapid.from_pem(keys.private_pem)
        self._alerts: queue.Queue[int] = queue.Queue(policy.queue_size)
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="push-sender", daemon=True)
        self._listener: asyncio.Task[None] | None = None
        self._exit = AsyncExitStack()

    @classmethod
    def for_store(cls, state: DashboardState, database: Path, policy: PushPolicy) -> PushSender:
        """A sender with the VAPID key kept next to the store at ``database`` (made now if
        this is the first start)."""
        return cls(state, load_or_make(key_path(database)), policy)

    @property
    def drop_policy(self) -> DropPolicy:
        return DropPolicy.NEWEST

    async def start(self, bus: EventBus[AlertNotice]) -> None:
        """Subscribe to ``bus`` (before returning: no notice published after is missed) and
        start the worker."""
        notices = await self._exit.enter_async_context(bus.subscribe())
        self._worker.start()
        self._listener = asyncio.create_task(self._listen(notices), name="push-listener")

    async def stop(self) -> None:
        """Stop listening; the worker ends after the push it is sending (its pauses between
        tries are cut short)."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._exit.aclose()
        self._stopping.set()
        with suppress(queue.Full):  # full: the worker sees _stopping at its next alert
            self._alerts.put_nowait(_STOP)
        if self._worker.is_alive():
            await asyncio.to_thread(self._worker.join, self.policy.timeout_s + 1)

    async def _listen(self, notices: asyncio.Queue[AlertNotice]) -> None:
        while True:
            self.notice(await notices.get())

    def notice(self, notice: AlertNotice) -> None:
        """Queue a new alert for pushing (a review's update is not pushed); never blocks."""
        if notice.updated:
            return
        try:
            self._alerts.put_nowait(notice.alert_id)
        except queue.Full:
            PUSH_DROPPED.inc()
            log.warning("push queue full: alert %d is not pushed", notice.alert_id)

    def _work(self) -> None:
        while not self._stopping.is_set():
            alert_id = self._alerts.get()
            if alert_id == _STOP:
                return
            try:
                self._push_alert(alert_id)
            except Exception:  # one bad alert must not end pushing for good
                log.exception("pushing alert %d failed", alert_id)

    def _push_alert(self, alert_id: int) -> None:
        state = self._state
        alert = alert_rows.alert(state.store, alert_id)
        if alert is None:
            log.warning("alert %d is not in the store: not pushed", alert_id)
            return
        subscriptions = push_subscriptions.everyone(state.store)
        if not subscriptions:
            return
        users = {user.id: user for user in state.accounts.users()}
        for push in pushes_for(alert, subscriptions, users, state.site):
            if self._stopping.is_set():
                return
            self.send(push)

    def send(self, push: Push) -> Failure | None:
        """Send one push, trying again while the service cannot take it now; None once it is
        accepted, else why it was given up (counted)."""
        pause, failure = self.policy.first_pause_s, Failure.NETWORK
        for attempt in range(1, self.policy.tries + 1):
            if attempt > 1:
                PUSH_RETRIES.inc()
                if self._stopping.wait(pause):
                    break
                pause *= 2
            outcome = self._send_once(push)
            if outcome is None:
                PUSH_SENT.inc()
                return None
            failure = outcome
            if failure not in (Failure.UNAVAILABLE, Failure.NETWORK):
                break
        PUSH_FAILED.labels(failure.value).inc()
        return failure

    def _send_once(self, push: Push) -> Failure | None:
        subscription = push.subscription
        info = {
            "endpoint": subscription.endpoint,
            "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
        }
        try:
            webpush(
                subscription_info=info,
                data=push.payload,
                vapid_private_key=self._vapid,
                vapid_claims={"sub": self.policy.contact},  # a new dict: webpush fills it
                timeout=self.policy.timeout_s,
                ttl=self.policy.ttl_s,
                headers={"Urgency": "high" if push.urgent else "normal"},
            )
        except WebPushException as error:
            return self._refused(push, error)
        except OSError as error:  # requests' errors are OSErrors: refused, reset, timed out
            log.info("push to %s: %s", subscription.push_service, error)
            return Failure.NETWORK
        return None

    def _refused(self, push: Push, error: WebPushException) -> Failure:
        status = error.status_code
        log.info("push to %s refused: %s", push.subscription.push_service, status)
        if status in GONE_STATUSES:
            push_subscriptions.forget_gone(self._state.store, push.subscription, status)
            return Failure.GONE
        if status in RETRIED_STATUSES:
            return Failure.UNAVAILABLE
        return Failure.REJECTED
