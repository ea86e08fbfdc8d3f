"""The benchmark's pieces (``portal.bench``): its hello-world view is no part of the portal,
``ab``'s report is read right, the targets are judged right, and the whole command runs at
a tiny size — the load section included, when ``ab`` and gunicorn are there."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import Resolver404, resolve
from django.utils import timezone

from portal.bench.load import (
    AbResult,
    LoadOptions,
    LoadRow,
    ab_command,
    find_ab,
    gunicorn_available,
    parse_ab,
    run_load,
    target_verdicts,
)
from portal.bench.urls import HELLO_PATH

AB_OUTPUT = """\
This is ApacheBench, Version 2.3 <$Revision$>
Benchmarking 127.0.0.1 (be patient).....done

Server Software:        gunicorn
Server Hostname:        127.0.0.1
Server Port:            8033

Document Path:          /units/
Document Length:        Variable

Concurrency Level:      8
Time taken for tests:   5.002 seconds
Complete requests:      478
Failed requests:        0
Non-2xx responses:      3
Total transferred:      19885421 bytes
HTML transferred:       19580656 bytes
Requests per second:    95.56 [#/sec] (mean)
Time per request:       83.716 [ms] (mean)
Time per request:       10.465 [ms] (mean, across all concurrent requests)
Transfer rate:          3882.19 [Kbytes/sec] received

Connection Times (ms)
              min  mean[+/-sd] median   max
Connect:        0    0   0.0      0       0
Processing:    22   83  11.2     81     123
Waiting:       21   82  11.2     80     122
Total:         22   83  11.2     81     123

Percentage of the requests served within a certain time (ms)
  50%     81
  66%     85
  75%     88
  80%     90
  90%     96
  95%    101
  98%    110
  99%    115
 100%    123 (longest request)
"""


def test_hello_world_is_not_routable_in_the_portal(db: None) -> None:
    assert settings.ROOT_URLCONF == "portal.urls"
    with pytest.raises(Resolver404):
        resolve(HELLO_PATH)
    response = Client().get(HELLO_PATH)
    assert response.status_code == 404
    assert b"Hello, world" not in response.content


@override_settings(ROOT_URLCONF="portal.bench.urls")
def test_hello_world_answers_under_the_bench_urlconf(db: None) -> None:
    response = Client().get(HELLO_PATH)
    assert response.status_code == 200
    assert response.content == b"Hello, world"
    # The portal's own pages are still there, and its error handlers.
    assert Client().get("/no-such-page/").status_code == 404


def test_bench_settings_refuse_to_load_outside_a_bench_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PORTAL_BENCH_RUN", raising=False)
    monkeypatch.delitem(sys.modules, "portal.bench.settings", raising=False)
    with pytest.raises(ImproperlyConfigured, match="bench"):
        importlib.import_module("portal.bench.settings")


def test_parse_ab_reads_throughput_latency_and_failures() -> None:
    result = parse_ab(AB_OUTPUT)
    assert result.complete == 478
    assert result.failed == 0
    assert result.non_2xx == 3
    assert result.rps == pytest.approx(95.56)
    assert result.seconds == pytest.approx(5.002)
    assert (result.p50, result.p95, result.longest) == (81, 101, 123)
    assert result.mean_bytes == 19580656 // 478


def test_parse_ab_refuses_a_report_without_figures() -> None:
    with pytest.raises(ValueError, match="no completed requests"):
        parse_ab("apr_socket_recv: Connection refused (111)\n")


def test_ab_is_bounded_in_time_and_in_requests() -> None:
    command = ab_command("ab", "http://127.0.0.1:1/", LoadOptions(seconds=3, requests=400))
    # -t implies -n 50000; the -n after it sets the real bound.
    assert command.index("-t") < command.index("-n")
    assert command[command.index("-n") + 1] == "400"
    assert command[command.index("-c") + 1] == "8"
    assert "-C" not in command
    with_cookie = ab_command("ab", "http://127.0.0.1:1/", LoadOptions(), cookie="sessionid=x")
    assert with_cookie[with_cookie.index("-C") + 1] == "sessionid=x"


def _row(size: int, mode: str, key: str, rps: float, hello: float, longest: int = 50) -> LoadRow:
    result = AbResult(complete=100, rps=rps, percentiles={50: 10, 95: 20, 100: longest})
    return LoadRow(size, size * 204, mode, key, f"/{key}/", result, hello_rps=hello)


def test_target_verdicts() -> None:
    rows = [
        _row(1, "cached", "hello", 1500, 1500),
        _row(1, "cached", "home", 800, 1500),  # 1/1.9: met (≥ 1/2)
        _row(1, "uncached", "tree", 60, 1500),  # 1/25: missed (≥ 1/20)
        _row(400, "cached", "hello", 1200, 1200),
        _row(400, "cached", "home", 400, 1200),  # 1/3.0 against 1/1.9: 1.6×, missed
        _row(400, "uncached", "tree", 50, 1500, longest=2400),  # 1.2×: met; 2.4 s: missed
    ]
    verdicts = target_verdicts(rows)
    assert "met    cached home at 1 counties: 1/1.9 (target ≥ 1/2)" in verdicts
    assert "MISSED uncached tree at 1 counties: 1/25.0 (target ≥ 1/20)" in verdicts
    assert "MISSED cached home: 1/3.0 at 400 counties, 1/1.9 at 1: 1.60× (target ≤ 1.5×)" in (
        verdicts
    )
    assert any(v.startswith("met    uncached tree: 1/30.0 at 400 counties") for v in verdicts)
    assert any("a request took 2400 ms" in v for v in verdicts)


@pytest.mark.parametrize(
    "arguments",
    [["--sections", "tree,nothing"], ["--load-sizes", "1,x"], ["--load-modes", "warm"]],
)
def test_command_refuses_unknown_choices(arguments: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("bench", *arguments)


@pytest.mark.skipif(find_ab() is None, reason="ApacheBench (ab, apache2-utils) is not installed")
@pytest.mark.skipif(not gunicorn_available(), reason="gunicorn is not installed")
def test_whole_bench_at_a_tiny_size(tmp_path: Path) -> None:
    """``manage.py bench`` end to end, in a subprocess on a SQLite file of its own (the
    load section's servers must see the database, and the bench creates and drops its own
    throwaway ones): one county, one province of two, a second of load per URL."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    report = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "bench",
            "--sections",
            "tree,reads,orders,load",
            "--counties",
            "2",
            "--repeat",
            "1",
            "--load-sizes",
            "1",
            "--load-seconds",
            # ab's time limit; one second was seen to end before any request completed on
            # a busy machine (ab then reports none).
            "3",
            "--load-requests",
            "100",
            "--load-modes",
            "cached,staff",
            "--json",
            str(report),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = json.loads(report.read_text())
    assert figures["tree_sizes"]["county"] == 204
    assert figures["measurements"]["county.page.tree"]["error"] is None
    for size in ("small", "big"):  # the requests section: queue, API list, order page
        for key in ("page.queue", "api.list", "page.order"):
            measured = figures["measurements"][f"orders.{size}.{key}"]
            assert measured["error"] is None and measured["queries"] > 0, measured
    rows = {(row["mode"], row["key"]): row for row in figures["load"]["rows"]}
    assert set(rows) == {
        (mode, key)
        for mode in ("cached", "staff")
        for key in ("hello", "home", "tree", "station", "api")
    }
    for row in rows.values():
        assert row["error"] is None, row
        assert row["complete"] > 0
        assert row["rps"] > 0
    # Anonymous pages came from the page cache; a coordinator's are live.
    assert rows[("cached", "home")]["page_cache"] == "hit"
    assert rows[("staff", "home")]["page_cache"] is None
    assert rows[("cached", "hello")]["one_in"] == 1.0
    assert "Targets of issue 6:" in completed.stdout
    assert not (tmp_path / "unused.sqlite3").exists()


def test_load_section_says_when_ab_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("portal.bench.load.find_ab", lambda: None)
    said: list[str] = []
    assert "apache2-utils" in run_load(LoadOptions(), said.append)["skipped"]
    assert said and said[0].startswith("LOAD SECTION SKIPPED: ApacheBench (`ab`) is not installed")


def test_activities_seed_is_consistent_with_the_summary_and_the_floor(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench's bulk SQL leaves what the services would: approved activities, each with
    a participant and a confirmed record; the rebuilt summary agrees with the records, and
    the hand-written floor with the ORM's sums. In chunks (4 transactions here)."""
    from django.db.models import Count, Sum

    from activities import summary
    from activities.models import Activity, ActivityParticipant
    from portal.bench.activities import floor_raw, floor_summary, seed_activities
    from portal.bench.common import import_county
    from practice.models import User
    from volunteers.models import ServiceRecord

    actor = User.objects.create_superuser(username="bench-test", email="", password=None)
    county = import_county(actor, None)
    monkeypatch.setattr("portal.bench.activities.CHUNK", 150)
    seeded = seed_activities(county, 500, actor=actor)
    assert seeded["units"] == 203  # every unit but the root
    activities = Activity.objects.filter(unit__tree_id=county.tree_id)
    assert activities.count() == 500
    assert set(activities.values_list("status", flat=True)) == {"approved"}
    assert activities.values("unit").distinct().count() == 203
    assert activities.values("category").distinct().count() == seeded["platforms"]
    years = {a.start.astimezone(timezone.get_current_timezone()).year for a in activities}
    assert years == {seeded["first_year"] + k for k in range(3)}
    records = ServiceRecord.objects.filter(source="activity", status="confirmed")
    assert records.count() == ActivityParticipant.objects.count() == 500

    assert summary.rebuild() > 0
    assert summary.differences() == []
    year = seeded["first_year"] + 2
    day_from, day_to = dt.date(year, 1, 1), dt.date(year, 12, 31)
    town = county.get_children().first()
    assert town is not None
    for unit in (county, town):
        raw = floor_raw(unit, day_from, day_to)
        expected = (
            Activity.objects.filter(
                unit__tree_id=unit.tree_id,
                unit__lft__gte=unit.lft,
                unit__lft__lte=unit.rght,
                start__date__gte=day_from,
                start__date__lte=day_to,
            )
            .values("category")
            .annotate(n=Count("pk"), b=Sum("beneficiaries"), m=Sum("materials"))
            .order_by("category")
        )
        assert [tuple(int(x) for x in r[:4]) for r in raw] == [
            (e["category"], e["n"], e["b"], e["m"]) for e in expected
        ]
        assert sum(r[1] for r in raw) > 0
        from_summary = floor_summary(unit, day_from, day_to)
        assert [tuple(int(x) for x in r[:4]) for r in from_summary] == [
            tuple(int(x) for x in r[:4]) for r in raw
        ]
        assert sum(Decimal(r[4]) for r in from_summary) == 2 * sum(r[1] for r in raw)


def test_activities_section_at_a_tiny_size(tmp_path: Path) -> None:
    """``manage.py bench --sections activities`` on SQLite: a few hundred activities in a
    province of two counties; the dashboard and the stats API measured, both figures
    agreeing with the SQL floor, and the ratios printed."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'unused.sqlite3'}"
    report = tmp_path / "bench.json"
    completed = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "bench",
            "--sections",
            "activities",
            "--counties",
            "2",
            "--activities",
            "400",
            "--repeat",
            "2",
            "--json",
            str(report),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = json.loads(report.read_text())
    measured = figures["measurements"]
    assert measured["activities.seed"]["activities"] == 400
    assert measured["activities.seed"]["units"] == 2 * 204  # the region root has none
    assert measured["activities.rebuild"]["summary_rows"] > 0
    totals = {}
    for scope in ("county", "province"):
        for key in ("page", "api", "floor_raw", "floor_summary"):
            m = measured[f"activities.{scope}.{key}"]
            assert m["error"] is None, (scope, key, m)
            assert len(m["samples_ms"]) == 2 and m["queries"] > 0, (scope, key, m)
        assert measured[f"activities.{scope}.floor_summary"]["agrees_with_raw"] is True
        assert measured[f"activities.{scope}.api"]["agrees_with_floor"] is True
        totals[scope] = measured[f"activities.{scope}.floor_raw"]["totals"]
    assert 0 < totals["county"][0] < totals["province"][0] < 400
    for label, value in figures["ratios"].items():
        assert value is not None and value > 0, label
    assert "dashboard ÷ raw SQL floor, province" in completed.stdout


def test_activities_must_be_positive() -> None:
    with pytest.raises(CommandError, match="--activities"):
        call_command("bench", "--sections", "activities", "--activities", "0")
