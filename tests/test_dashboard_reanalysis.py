"""Re-analysis as an operator does it, in real Chromium, on the real service: the camera
farm serves the PETS 2009 crossroads, ``matthan run`` records and analyses it live, and its
re-analysis role runs the jobs the page queues.

The operator uploads twelve seconds of the same crossroads, watches the job's progress bar
fill, and reads its person findings as alert cards with their pictures; then re-analyses
what the camera recorded in the last twenty seconds; then queues the camera page's replay
range and stops that job. Every step is in the audit log.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from matthan.farm import CameraFarm
from tests.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Service, free_port
from tests.paths import clips_dir
from tests.test_e2e import PASSWORD, SITE, farm, log_in
from tests.video_files import cut_clip

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
__all__ = ["farm"]  # the farm fixture is shared with the walking-skeleton test

RECORDING = "recording: {segment_s: 4}\n"
CAMERA = "nga-tu-cho-gom"
ROW = """(id) => {
  const row = document.querySelector(`#jobs li[data-job-id="${id}"]`);
  if (!row) return null;
  return { state: row.dataset.state, progress: Number(row.querySelector("progress").value),
           frames: parseInt(row.querySelector(".job-frames").textContent, 10) };
}"""
SET_RANGE = """async ([from, to]) => {
  const { siteInputValue } = await import("/static/lib/time.js");
  document.getElementById("ra-from").value = siteInputValue(from);
  document.getElementById("ra-to").value = siteInputValue(to);
}"""


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="vi-VN")
        yield context.new_page()
        browser.close()


def rows(service: Service, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(service.config.parent / "data" / "test.db") as db:
        return db.execute(sql).fetchall()


def wait_for_segment(service: Service, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not rows(service, "SELECT id FROM segments"):
        assert time.monotonic() < deadline, "nothing recorded"
        time.sleep(0.5)


def selected_job(page: Page, newer_than: int = 0) -> int:
    """The job the page selected after queueing it (``#job-<id>`` in the address), once it
    is one newer than ``newer_than``."""
    page.wait_for_function(
        "(last) => /^#job-\\d+$/.test(location.hash) && Number(location.hash.slice(5)) > last",
        arg=newer_than,
        timeout=30_000,
    )
    return int(page.evaluate("() => location.hash.slice(5)"))


def follow(page: Page, job_id: int, timeout_s: float) -> list[dict[str, object]]:
    """What the job's row showed, sampled ten times a second until it finished."""
    seen: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        row = page.evaluate(ROW, job_id)
        if row is not None and (not seen or row != seen[-1]):
            seen.append(row)
        if row is not None and row["state"] not in ("queued", "running"):
            return seen
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still unfinished after {timeout_s} s: {seen[-3:]}")


def upload_and_read_findings(page: Page, service: Service, clip: Path) -> int:
    """Upload ``clip``: the progress bar fills, the findings are person alert cards."""
    page.click("nav a[href='/reanalysis']")
    expect(page.locator("#ra-forms")).to_be_visible()
    page.select_option("#up-camera", CAMERA)
    page.set_input_files("#up-file", str(clip))
    expect(page.locator("#up-file-name")).to_have_text(clip.name)
    page.click("#up-submit")
    job_id = selected_job(page)
    seen = follow(page, job_id, 150)
    assert seen[-1]["state"] == "done", seen
    assert seen[-1]["progress"] == 1.0, seen
    unfinished = [row for row in seen if row["state"] in ("queued", "running")]
    assert any(float(row["progress"]) < 1.0 for row in unfinished), seen  # type: ignore[arg-type]
    assert int(seen[-1]["frames"]) > 0  # type: ignore[call-overload]
    row = page.locator(f'#jobs li[data-job-id="{job_id}"]')
    expect(row.locator(".job-percent")).to_have_text("100%")
    expect(row.locator(".job-state")).to_have_text("Xong")
    expect(row.locator(".upload-name")).to_have_text(clip.name)
    finding = page.locator("#findings .alert.finding").first
    expect(finding).to_be_visible(timeout=10_000)
    expect(finding.locator(".class-name")).to_have_text("Người")
    expect(finding.locator(".camera")).to_have_text("Ngã tư chợ Gốm")
    expect(finding).to_contain_text("nguoi-vao-long-duong")
    finding.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => document.querySelector('#findings .alert.finding img').naturalWidth > 0",
        timeout=10_000,
    )
    # No acknowledge or resolve on a finding; an operator may add it to a case.
    assert not page.locator("#findings .alert button:not(.add-to-case)").count()
    expect(finding.locator("button.add-to-case")).to_be_visible()
    found = rows(service, f"SELECT class_name FROM alerts WHERE job_id = {job_id}")
    assert ("person",) in found
    assert page.locator("#findings .alert.finding").count() == len(found)
    return job_id


def reanalyse_the_last_seconds(page: Page, service: Service, seconds: float, last: int) -> int:
    """What the camera recorded in the last ``seconds``, through the page's range form
    (``last`` is the newest job before it)."""
    wait_for_segment(service, 60)
    page.select_option("#ra-camera", CAMERA)
    now = time.time()
    page.evaluate(SET_RANGE, [now - seconds, now])
    page.click("#ra-submit")
    job_id = selected_job(page, last)
    seen = follow(page, job_id, 120)
    assert seen[-1]["state"] == "done", seen
    expect(page.locator(f'#jobs li[data-job-id="{job_id}"] .job-state')).to_have_text("Xong")
    return job_id


def queue_from_the_camera_page_and_stop(page: Page, service: Service) -> int:
    """The camera page's replay range, queued there, followed and stopped here."""
    page.goto(f"{service.base_url}/cameras/{CAMERA}")
    page.click("#reanalyse-range")
    expect(page.locator("#reanalyse-link")).to_be_visible(timeout=10_000)
    page.click("#reanalyse-link")
    job_id = selected_job(page)
    page.locator(f'#jobs li[data-job-id="{job_id}"] button.cancel').click()
    seen = follow(page, job_id, 60)
    assert seen[-1]["state"] == "cancelled", seen
    state = page.locator(f'#jobs li[data-job-id="{job_id}"] .job-state')
    expect(state).to_have_text("Đã dừng")
    return job_id


@pytest.mark.timeout(360)
def test_operator_reanalyses_an_upload_and_a_recorded_range(
    farm: CameraFarm,
    start_service: Callable[[str, int], Service],
    page: Page,
    tmp_path: Path,
) -> None:
    port = free_port()
    service = start_service(SITE.format(port=port, url=farm.url("pets")) + RECORDING, port)
    service.add_user("trucban", PASSWORD, "operator")
    clip = cut_clip(clips_dir() / "pets09_s2l1_vtest.mp4", tmp_path / "nga-tu-12s.mp4", 12.0)
    log_in(page, service.base_url, "trucban")

    upload_job = upload_and_read_findings(page, service, clip)
    range_job = reanalyse_the_last_seconds(page, service, 20, upload_job)
    queue_from_the_camera_page_and_stop(page, service)

    # The upload's findings again, for the picture of the page.
    page.locator(f'#jobs li[data-job-id="{upload_job}"] button.show').click()
    expect(page.locator("#findings .alert.finding").first).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('#findings .alert.finding img').naturalWidth > 0",
        timeout=10_000,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "reanalysis.png"), full_page=True)

    audited = rows(
        service,
        "SELECT action, actor, target, detail FROM audit_log"
        " WHERE action LIKE 'reanalysis.%' ORDER BY id",
    )
    assert [row[:3] for row in audited] == [
        ("reanalysis.queue", "trucban", CAMERA),
        ("reanalysis.queue", "trucban", CAMERA),
        ("reanalysis.queue", "trucban", CAMERA),
        ("reanalysis.cancel", "trucban", CAMERA),
    ]
    assert json.loads(str(audited[0][3])) == {"job": upload_job, "file": clip.name}
    assert json.loads(str(audited[1][3]))["job"] == range_job
    assert service.stop() == 0, service.log_text()[-3000:]
