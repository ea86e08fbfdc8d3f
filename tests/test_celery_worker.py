"""A real Celery worker (another process) runs ``check_tree_integrity`` through Redis.

Runs only with ``REDIS_URL`` and a PostgreSQL ``DATABASE_URL``: the worker must reach the
broker and see the test database, which the embedded SQLite run cannot share.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import F

from portal.celery import app
from practice import services
from practice.choices import UnitKind
from practice.models import Unit, User
from practice.tasks import check_tree_integrity
from tests.factories import PASSWORD

pytestmark = pytest.mark.worker

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
TASK_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
WORKER_COMMAND = [sys.executable, "-m", "celery", "-A", "portal", "worker"]
WORKER_COMMAND += ["--pool=solo", "--concurrency=1", "-l", "info"]


def database_url() -> str:
    """The URL of the *test* database this process uses (``test_…``), for the worker."""
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = quote(s["PASSWORD"] or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host, query = s["HOST"] or "localhost", ""
    if host.startswith("/"):  # a Unix-socket directory: passed as a connection option
        host, query = "", f"?host={quote(host, safe='')}"
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{auth}{host}{port}/{quote(s['NAME'], safe='')}{query}"


class Worker:
    """``celery worker`` in a subprocess; its output goes to a file (no pipe to fill up)."""

    def __init__(self) -> None:
        self.name = f"portal-test-{uuid.uuid4().hex[:8]}@%h"
        self.log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="celery-worker-", suffix=".log", delete=False
        )
        skip = ("CELERY_", "PYTEST_", "DJANGO_ALLOW_ASYNC_UNSAFE")
        env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
        env.update(
            DJANGO_SETTINGS_MODULE="portal.settings.test",
            REDIS_URL=settings.REDIS_URL,
            DATABASE_URL=database_url(),
            PYTHONUNBUFFERED="1",
        )
        self.process = subprocess.Popen(
            [*WORKER_COMMAND, "-n", self.name, "--without-gossip", "--without-mingle"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return Path(self.log_file.name).read_text(encoding="utf-8", errors="replace")

    def wait_ready(self) -> None:
        """Until the worker answers a ping over the broker (it has connected and started)."""
        deadline = time.monotonic() + START_TIMEOUT
        hostname = self.name.replace("%h", "")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}:\n{self.output()}")
            replies = app.control.ping(timeout=0.5)
            if any(name.startswith(hostname) for reply in replies for name in reply):
                return
        pytest.fail(f"the worker did not answer a ping in {START_TIMEOUT}s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # SIGTERM: warm shutdown
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self.log_file.close()


@pytest.fixture
def worker(transactional_db: Any) -> Iterator[Worker]:
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (a broker the worker can reach)")
    if connection.vendor != "postgresql":
        pytest.skip(
            f"needs PostgreSQL: a worker process cannot see the {connection.vendor} test db"
        )
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "with REDIS_URL, tasks must go to the broker"
    app.control.purge()  # tasks left in the queue by an earlier, interrupted run
    w = Worker()
    try:
        w.wait_ready()
        yield w
    finally:
        w.stop()
        # Shown by pytest under "Captured stdout teardown" when the test fails.
        print(f"----- celery worker output ({w.log_file.name}) -----\n{w.output()}")
        os.unlink(w.log_file.name)


def run_in_worker(w: Worker) -> dict[str, Any]:
    result = check_tree_integrity.delay()
    try:
        value = result.get(timeout=TASK_TIMEOUT)
    except Exception as exc:
        pytest.fail(f"check_tree_integrity failed in the worker: {exc!r}\n{w.output()}")
    assert isinstance(value, dict)
    return value


def test_the_worker_checks_tree_integrity_and_reports_a_corrupted_tree(worker: Worker) -> None:
    superuser = User.objects.create_superuser(username="root", password=PASSWORD)
    centre = services.unit_create(
        actor=superuser, parent=None, name="任务县中心", kind=UnitKind.CENTRE
    )
    town = services.unit_create(
        actor=superuser, parent=centre, name="任务镇所", kind=UnitKind.INSTITUTE
    )
    station = services.unit_create(
        actor=superuser, parent=town, name="任务村站", kind=UnitKind.STATION
    )
    other = services.unit_create(
        actor=superuser, parent=None, name="另一任务县中心", kind=UnitKind.CENTRE
    )
    services.unit_create(actor=superuser, parent=other, name="另一镇所", kind=UnitKind.INSTITUTE)

    result = run_in_worker(worker)

    assert result == {"trees": 2, "units": 5, "problems": []}, worker.output()

    # Break the nested set behind mptt's back: the station now sticks out of its parent.
    Unit.objects.filter(pk=station.pk).update(rght=F("rght") + 100)

    result = run_in_worker(worker)

    assert result["trees"] == 2
    assert result["units"] == 5
    problems = result["problems"]
    assert any(f"unit {station.pk}:" in p for p in problems), problems
    station.refresh_from_db()
    assert any(f"tree {station.tree_id}:" in p for p in problems), problems
    assert "tree integrity" in worker.output(), "problems are logged as errors by the worker"


def test_the_worker_applies_a_confirmed_import_job(worker: Worker) -> None:
    """Upload → preview → confirm on the pages; the worker writes the units, reports its
    progress in the job, and the status the page polls says "done"."""
    from io import BytesIO

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse
    from openpyxl import Workbook

    from portal.models import ImportJob

    superuser = User.objects.create_superuser(username="root", password=PASSWORD)
    centre = services.unit_create(
        actor=superuser, parent=None, name="导入县中心", kind=UnitKind.CENTRE
    )
    town = services.unit_create(
        actor=superuser, parent=centre, name="导入镇所", kind=UnitKind.INSTITUTE
    )
    book = Workbook()
    sheet = book.active
    sheet.append(["名称", "类型"])
    for n in range(1, 31):
        sheet.append([f"导入{n:02d}村站", "实践站"])
    content = BytesIO()
    book.save(content)
    upload = SimpleUploadedFile("网点.xlsx", content.getvalue())

    client = Client()
    client.force_login(superuser)
    client.post(reverse("unit-import", args=[town.pk]), {"file": upload})
    job = ImportJob.objects.get()
    assert job.status == "preview"
    client.post(reverse("unit-import-confirm", args=[town.pk, job.pk]))

    status_url = reverse("unit-import-status", args=[town.pk, job.pk])
    deadline = time.monotonic() + TASK_TIMEOUT
    while time.monotonic() < deadline:
        status = client.get(status_url).json()
        if status["finished"]:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the import job did not finish in {TASK_TIMEOUT}s:\n{worker.output()}")
    assert status["status"] == "done", (status, worker.output())
    assert status["done"] == status["total"]
    assert Unit.objects.filter(parent=town).count() == 30
    assert "run_import_job" in worker.output()
