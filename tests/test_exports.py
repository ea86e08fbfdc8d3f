"""Background exports (portal.exports): a big activity export becomes a job written by the
Celery task with progress, its pages belong to its actor alone, the file reads back, a
failing writer or an unreachable queue is handled, a stalled job can be run by its owner."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from openpyxl import load_workbook

from portal import exports, tasks
from portal.models import ExportJob
from tests.activities.conftest import make_activity
from tests.conftest import World

pytestmark = pytest.mark.django_db

EXPORT = "/activities/export.xlsx"


@pytest.fixture(autouse=True)
def _media_and_english(settings: Any, tmp_path: Path) -> Any:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.EXPORT_INLINE_ROWS = 2
    with translation.override("en"):
        yield


def three_activities(world: World) -> list[Any]:
    return [
        make_activity(world.station_manager, world.station, title=f"活动{i}", days_ago=2 + i)
        for i in range(3)
    ]


def progress_calls(monkeypatch: Any) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    original = exports.counted

    def spy(rows: Any, *, total: int, progress: Any) -> Any:
        def record(done: int, all_rows: int) -> None:
            calls.append((done, all_rows))
            progress(done, all_rows)

        return original(rows, total=total, progress=record)

    monkeypatch.setattr("activities.exports.counted", spy)
    return calls


def test_a_big_export_runs_as_a_job_with_progress(
    browser_client: Any, world: World, monkeypatch: Any
) -> None:
    activities = three_activities(world)
    calls = progress_calls(monkeypatch)
    monkeypatch.setattr(exports, "PROGRESS_EVERY", 2)
    client = browser_client(world.station_manager)
    response = client.get(f"{EXPORT}?within={world.station.pk}")
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("export-job", args=[job.pk])
    # The task ran (eagerly in tests): done, with its progress reported as it wrote.
    assert job.status == ExportJob.Status.DONE and job.actor == world.station_manager
    assert job.kind == "activities.exports.write_activities"
    assert job.params == {"within": [str(world.station.pk)]}
    assert (job.done, job.total, job.percent) == (3, 3, 100)
    assert calls == [(0, 3), (2, 3), (3, 3)]
    assert job.file.name.startswith("exports/") and job.filename.endswith(".xlsx")

    page = client.get(response["Location"]).content.decode()
    assert reverse("export-job-download", args=[job.pk]) in page
    assert "portal/export-job.js" not in page  # finished: nothing to follow
    download = client.get(reverse("export-job-download", args=[job.pk]))
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    book = load_workbook(BytesIO(b"".join(download.streaming_content)))
    ids = [row[0] for row in book.active.iter_rows(min_row=2, values_only=True)]
    assert sorted(ids) == sorted(a.pk for a in activities)


def test_a_small_export_is_answered_at_once(browser_client: Any, world: World) -> None:
    make_activity(world.station_manager, world.station)
    response = browser_client(world.station_manager).get(EXPORT)
    assert response.status_code == 200
    assert not ExportJob.objects.exists()
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert len(rows) == 2


def test_a_queued_job_shows_its_progress_page(
    browser_client: Any, world: World, monkeypatch: Any
) -> None:
    three_activities(world)
    monkeypatch.setattr(tasks.run_export_job, "delay", lambda pk: None)  # queued, not run
    client = browser_client(world.station_manager)
    response = client.get(EXPORT)
    job = ExportJob.objects.get()
    assert job.status == ExportJob.Status.QUEUED and job.total == 3
    page = client.get(response["Location"]).content.decode()
    assert 'id="export-progress"' in page and "portal/export-job.js" in page
    assert reverse("export-job-status", args=[job.pk]) in page
    assert '<meta http-equiv="refresh"' in page  # without JavaScript: reloads
    assert 'id="export-run"' not in page  # not stalled yet
    state = client.get(reverse("export-job-status", args=[job.pk])).json()
    assert state.pop("label")  # in the page's language
    assert state == {
        "status": "queued",
        "finished": False,
        "stalled": False,
        "done": 0,
        "total": 3,
        "percent": 0,
    }
    assert client.get(reverse("export-job-download", args=[job.pk])).status_code == 404
    # Not stalled: "run it now" does nothing.
    client.post(reverse("export-job-run", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ExportJob.Status.QUEUED
    # No worker took it in time: its owner runs it from the page.
    ExportJob.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - exports.STALLED_AFTER - dt.timedelta(seconds=1)
    )
    assert 'id="export-run"' in client.get(response["Location"]).content.decode()
    assert client.post(reverse("export-job-run", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == ExportJob.Status.DONE and job.done == 3


def test_an_unreachable_queue_runs_the_export_in_the_request(
    browser_client: Any, world: World, monkeypatch: Any
) -> None:
    three_activities(world)

    def unreachable(pk: int) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.run_export_job, "delay", unreachable)
    browser_client(world.station_manager).get(EXPORT)
    assert ExportJob.objects.get().status == ExportJob.Status.DONE


def failing_writer(job: ExportJob, progress: Any) -> tuple[bytes, str]:
    raise RuntimeError("disk full")


def test_a_failing_writer_marks_the_job_failed(browser_client: Any, world: World) -> None:
    job = exports.start(
        kind="tests.test_exports.failing_writer", actor=world.coordinator, params={}
    )
    assert job.status == ExportJob.Status.FAILED
    assert job.error == "The export failed unexpectedly. Try again later."
    page = browser_client(world.coordinator).get(reverse("export-job", args=[job.pk]))
    assert "The export failed unexpectedly" in page.content.decode()
    assert (
        browser_client(world.coordinator)
        .get(reverse("export-job-download", args=[job.pk]))
        .status_code
        == 404
    )
    # Claimed once: running it again does nothing.
    exports.run_export(job.pk)
    job.refresh_from_db()
    assert job.status == ExportJob.Status.FAILED


def test_an_unknown_writer_is_refused_when_asked(world: World) -> None:
    with pytest.raises(ImportError):
        exports.start(kind="tests.test_exports.no_such_writer", actor=world.coordinator, params={})
    assert not ExportJob.objects.exists()


def test_the_writer_reads_as_the_actor_now(world: World, browser_client: Any) -> None:
    """Scope is applied when the file is written: a job asking for another county's units
    gets nothing of them."""
    make_activity(world.other_coordinator, world.other_station, title="乙县活动")
    job = exports.start(
        kind="activities.exports.write_activities",
        actor=world.station_manager,
        params={"within": [str(world.other_centre.pk)]},
    )
    assert job.status == ExportJob.Status.DONE and job.done == 0
    download = browser_client(world.station_manager).get(
        reverse("export-job-download", args=[job.pk])
    )
    rows = list(
        load_workbook(BytesIO(b"".join(download.streaming_content))).active.iter_rows(
            values_only=True
        )
    )
    assert len(rows) == 1  # the header only


@pytest.mark.parametrize(
    "page", ["export-job", "export-job-status", "export-job-download", "export-job-run"]
)
@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("station_manager", None),  # the actor: the page works
        ("coordinator", 404),  # above the actor: still not theirs
        ("superuser", 404),
        ("other_coordinator", 404),
        ("no_role", 404),
        (None, 302),
    ],
)
def test_only_its_actor_may_see_a_job(
    browser_client: Any, world: World, page: str, who: str | None, status: int | None
) -> None:
    three_activities(world)
    browser_client(world.station_manager).get(EXPORT)
    job = ExportJob.objects.get()
    client = browser_client(getattr(world, who) if who else None)
    url = reverse(page, args=[job.pk])
    response = client.post(url) if page == "export-job-run" else client.get(url)
    if status is None:
        assert response.status_code in (200, 302)
        if page == "export-job-run":
            assert response["Location"] == reverse("export-job", args=[job.pk])
    else:
        assert response.status_code == status
        if status == 302:
            assert response["Location"].startswith(reverse("login"))


def test_unknown_job_is_404(browser_client: Any, world: World) -> None:
    assert browser_client(world.superuser).get("/exports/999999/").status_code == 404


def test_old_jobs_and_their_files_are_purged(world: World, tmp_path: Path) -> None:
    old = exports.start(
        kind="activities.exports.write_activities", actor=world.coordinator, params={}
    )
    new = exports.start(
        kind="activities.exports.write_activities", actor=world.coordinator, params={}
    )
    path = Path(old.file.path)
    assert path.exists()
    ExportJob.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - exports.KEEP_JOBS - dt.timedelta(hours=1)
    )
    assert tasks.purge_export_jobs() == 1
    assert not path.exists()
    assert list(ExportJob.objects.values_list("pk", flat=True)) == [new.pk]
