"""Waiting in a page for something an asynchronous browser API tells.

Playwright's ``wait_for_function`` takes a returned Promise as a truthy value and stops
waiting at once: ``() => video.framesDecoded().then(n => n > 20)`` "passes" with no frame
decoded. :func:`wait_for_promise` evaluates the expression (``page.evaluate`` awaits
Promises) until it is true, polling from Python.
"""

from __future__ import annotations

import time

from playwright.sync_api import Page


def wait_for_promise(page: Page, expression: str, timeout_s: float, every_s: float = 0.25) -> None:
    """Evaluate ``expression`` (a function returning a value or a Promise) until it is truthy;
    fail after ``timeout_s`` saying what it last gave."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return
        assert time.monotonic() < deadline, f"still {value!r} after {timeout_s} s: {expression}"
        page.wait_for_timeout(every_s * 1000)
