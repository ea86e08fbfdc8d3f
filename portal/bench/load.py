"""The load section: the portal under gunicorn, production settings, a load generator.

For each size (one county of the demo's shape, then 80, then 400 counties, each county a
tree of its own, ~204 units apiece) the portal is started twice under gunicorn on
127.0.0.1, with ``portal.bench.settings`` (the production settings plus the bench's
hello-world URL; see that module): once as deployed (the anonymous page cache on) and once
with the page cache off. ApacheBench (``ab``, from apache2-utils) sends each URL at a fixed
concurrency, bounded both in requests and in time, after a few untimed warm-up requests;
the first server also serves the same URLs to a logged-in coordinator. Each URL's req/s,
p50, p95 and longest request are compared with the hello-world view of the same server
run: the ratio is the share of the ceiling that URL reaches.

The database is a throwaway one of its own (created by the command); the servers read it
through the same ``DATABASE_URL`` the bench was given, pointed at that database.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django.test.utils import override_settings

from portal.cache import STATUS_HEADER
from practice import services
from practice.choices import Role, UnitKind
from practice.models import Unit, User

from .common import COUNTY_NAME, county_name, import_county, settle, timed
from .urls import HELLO_PATH

DEFAULT_SIZES = (1, 80, 400)
MODES = ("cached", "uncached", "staff")
MODE_LABELS = {
    "cached": "anonymous, page cache on",
    "uncached": "anonymous, page cache off",
    "staff": "logged in (a coordinator of the county)",
}
SLOW_MS = 2000  # "no request of any size runs past 2 s"


@dataclass
class LoadOptions:
    sizes: tuple[int, ...] = DEFAULT_SIZES
    seconds: int = 5  # ab takes whole seconds
    requests: int = 5000
    concurrency: int = 8
    workers: int = 2
    threads: int = 1
    timeout: int = 30
    port: int = 0
    modes: tuple[str, ...] = MODES


@dataclass
class AbResult:
    """What ``ab`` reports for one URL."""

    complete: int = 0
    failed: int = 0
    non_2xx: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    html_bytes: int = 0  # all bodies together
    percentiles: dict[int, int] = field(default_factory=dict)  # percent → ms

    @property
    def mean_bytes(self) -> int:
        return self.html_bytes // self.complete if self.complete else 0

    @property
    def p50(self) -> int | None:
        return self.percentiles.get(50)

    @property
    def p95(self) -> int | None:
        return self.percentiles.get(95)

    @property
    def longest(self) -> int | None:
        return self.percentiles.get(100)


_AB_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "Complete requests": ("complete", int),
    "Failed requests": ("failed", int),
    "Non-2xx responses": ("non_2xx", int),
    "Time taken for tests": ("seconds", lambda v: float(v.split()[0])),
    "Requests per second": ("rps", lambda v: float(v.split()[0])),
    "HTML transferred": ("html_bytes", lambda v: int(v.split()[0])),
}
_PERCENTILE = re.compile(r"^\s*(\d+)%\s+(\d+)")


def parse_ab(output: str) -> AbResult:
    """Parse ``ab``'s report. Raises ``ValueError`` when it holds no throughput figure."""
    result = AbResult()
    for line in output.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in _AB_FIELDS:
            attribute, convert = _AB_FIELDS[name.strip()]
            setattr(result, attribute, convert(value.strip()))
            continue
        match = _PERCENTILE.match(line)
        if match:
            result.percentiles[int(match.group(1))] = int(match.group(2))
    if not result.complete or not result.rps:
        raise ValueError("ab reported no completed requests")
    return result


@dataclass
class Target:
    """A target of issue 6: ``url`` in ``mode`` reaches at least 1/``ceiling_share`` of
    the hello-world view's throughput."""

    mode: str
    url: str
    ceiling_share: int


TARGETS = [
    Target("cached", "home", 2),
    Target("cached", "tree", 2),
    Target("cached", "station", 2),
    Target("uncached", "station", 10),
    Target("uncached", "tree", 20),
    Target("uncached", "home", 15),
    Target("uncached", "api", 12),
]
FLAT_WITHIN = 1.5  # each figure at the largest size within 1.5× of its county figure


@dataclass
class LoadRow:
    size: int
    units: int
    mode: str
    url_key: str
    url: str
    result: AbResult | None
    error: str = ""
    hello_rps: float | None = None
    page_cache: str = ""  # X-Page-Cache of the last warm-up request

    @property
    def share(self) -> float | None:
        """Hello-world's req/s ÷ this URL's: the N of "1/N"."""
        if self.result is None or not self.hello_rps or not self.result.rps:
            return None
        return self.hello_rps / self.result.rps

    def as_json(self) -> dict[str, Any]:
        return {
            "counties": self.size,
            "units": self.units,
            "mode": self.mode,
            "url": self.url,
            "key": self.url_key,
            "error": self.error or None,
            "hello_rps": self.hello_rps,
            "one_in": None if self.share is None else round(self.share, 2),
            "page_cache": self.page_cache or None,
            **({} if self.result is None else asdict(self.result)),
        }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url() -> str:
    """``DATABASE_URL`` for the servers: the database ``connection`` points at now (the
    throwaway one)."""
    data = connection.settings_dict
    if connection.vendor == "sqlite":
        return "sqlite:///" + str(Path(str(data["NAME"])).resolve())
    if connection.vendor == "postgresql":
        user = quote(str(data.get("USER") or ""), safe="")
        password = quote(str(data.get("PASSWORD") or ""), safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = str(data.get("HOST") or "")
        if host.startswith("/"):
            # A Unix socket directory: libpq takes it as the host parameter.
            return f"postgres://{auth}/{quote(str(data['NAME']), safe='')}?host={quote(host)}"
        port = f":{data['PORT']}" if data.get("PORT") else ""
        return f"postgres://{auth}{host}{port}/{quote(str(data['NAME']), safe='')}"
    raise CommandError(f"The load section runs on SQLite or PostgreSQL, not {connection.vendor}.")


class Server:
    """gunicorn serving the portal with ``portal.bench.settings`` on 127.0.0.1."""

    def __init__(self, *, env: dict[str, str], options: LoadOptions, log: Path) -> None:
        self.port = options.port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.command = [
            sys.executable,
            "-m",
            "gunicorn",
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(options.workers),
            "--threads",
            str(options.threads),
            "--timeout",
            str(options.timeout),
            "--graceful-timeout",
            "5",
            "--log-level",
            "warning",
        ]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
                self.command,
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CommandError(f"gunicorn exited at start:\n{self.log_tail()}")
            try:
                if fetch(self.base + HELLO_PATH)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise CommandError(f"gunicorn did not answer within 60 s:\n{self.log_tail()}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def fetch(url: str, cookie: str = "") -> tuple[int, str]:
    """GET ``url`` (plain HTTP on 127.0.0.1, no redirects followed): the status and the
    page cache's verdict (``X-Page-Cache``: hit, miss, or empty when the page was not
    cached)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=60) as response:
            response.read()
            return int(response.status), str(response.headers.get(STATUS_HEADER, ""))
    except urllib.error.HTTPError as exc:
        exc.read()
        return int(exc.code), str(exc.headers.get(STATUS_HEADER, ""))


def ab_command(ab: str, url: str, options: LoadOptions, cookie: str = "") -> list[str]:
    """``ab`` bounded by time and by requests (``-t`` first: it implies ``-n 50000``,
    which the ``-n`` after it replaces)."""
    command = [
        ab,
        "-q",  # no progress lines
        "-r",  # a socket error is counted, not fatal
        "-l",  # pages differ in length (CSRF tokens, times): not a failure
        "-c",
        str(options.concurrency),
        "-t",
        str(options.seconds),
        "-n",
        str(options.requests),
        "-s",
        str(options.timeout),
        "-H",
        "Accept-Language: zh-hans",
    ]
    if cookie:
        command += ["-C", cookie]
    return [*command, url]


def run_ab(command: list[str], timeout: float) -> AbResult:
    completed = subprocess.run(  # noqa: S603 - fixed arguments
        command, capture_output=True, text=True, timeout=timeout, check=False
    )
    try:
        return parse_ab(completed.stdout)
    except ValueError as exc:
        detail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or [""]
        raise CommandError(f"{exc}: {detail[0]}") from exc


class LoadBench:
    """Builds the sizes in the throwaway database and measures each under load."""

    def __init__(
        self, *, options: LoadOptions, write: Callable[[str], None], ab: str, workdir: Path
    ) -> None:
        self.options = options
        self.write = write
        self.ab = ab
        self.workdir = workdir
        self.rows: list[LoadRow] = []
        self.builds: dict[int, float] = {}
        self.units: dict[int, int] = {}
        self.secret_key = secrets.token_urlsafe(50)
        self.field_key = Fernet.generate_key().decode()
        # The run's own cache keys (``common.own_cache_keys``), shared with the servers.
        self.cache_prefix = str(settings.CACHES["default"].get("KEY_PREFIX", ""))
        self.static_root = workdir / "static"
        # A few requests per worker thread, bounded by time as the timed runs are.
        self.warm_up = replace(
            options, requests=max(2 * options.concurrency, 2 * options.workers * options.threads)
        )

    # --- environment -------------------------------------------------------------------

    def server_env(self, *, page_cache: bool) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"DJANGO_SETTINGS_MODULE", "DEBUG", "DATABASE_URL", "PAGE_CACHE_SECONDS"}
        }
        if not page_cache:
            env["PAGE_CACHE_SECONDS"] = "0"  # production's switch of the page cache
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "portal.bench.settings",
                "PORTAL_BENCH_RUN": "1",
                "PORTAL_BENCH_STATIC_ROOT": str(self.static_root),
                "PORTAL_BENCH_CACHE_PREFIX": self.cache_prefix,
                # One release for both workers (else each fingerprints the source files).
                "RELEASE": "bench",
                "DATABASE_URL": database_url(),
                "SECRET_KEY": self.secret_key,
                "FIELD_ENCRYPTION_KEY": self.field_key,
                "PERSONAL_DATA_HASH_KEY": self.secret_key[::-1],
                "ALLOWED_HOSTS": "127.0.0.1",
                "SECURE_SSL_REDIRECT": "0",
                "LOG_LEVEL": "WARNING",
            }
        )
        return env

    def collectstatic(self) -> None:
        """The manifest storage of production needs collected static files."""
        self.write("  collecting static files for the server (manifest storage) …")
        completed = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=settings.BASE_DIR,
            env=self.server_env(page_cache=True),
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise CommandError(f"collectstatic failed:\n{completed.stderr[-2000:]}")

    # --- data --------------------------------------------------------------------------

    def build_to(self, actor: User, have: int, want: int) -> None:
        elapsed, _none = timed(
            lambda: [
                import_county(actor, None, COUNTY_NAME if i == 0 else county_name(i), i)
                for i in range(have, want)
            ]
        )
        settle(analyze=True)
        if connection.vendor == "sqlite":
            # What seed_demo does: SQLite plans without statistics otherwise.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        self.builds[want] = self.builds.get(have, 0.0) + elapsed
        self.units[want] = Unit.objects.count()
        self.write(
            f"  {want} counties: {self.units[want]:,} units "
            f"(built in {self.builds[want] / 1000:.1f} s so far)"
        )

    def session_cookie(self, user: User) -> str:
        client = Client()
        client.force_login(user)
        return (
            f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        )

    # --- measuring ---------------------------------------------------------------------

    def measure(
        self, server: Server, size: int, mode: str, urls: dict[str, str], cookie: str
    ) -> None:
        hello: float | None = None
        for key, url in urls.items():
            row = LoadRow(size, self.units[size], mode, key, url, None)
            status, _verdict = fetch(server.base + url, cookie)
            if status != 200:
                row.error = f"HTTP {status}"
            else:
                timeout = self.options.seconds + self.options.timeout + 30
                try:
                    # Untimed: fills the page cache and warms every worker.
                    run_ab(ab_command(self.ab, server.base + url, self.warm_up, cookie), timeout)
                    _status, row.page_cache = fetch(server.base + url, cookie)
                    row.result = run_ab(
                        ab_command(self.ab, server.base + url, self.options, cookie), timeout
                    )
                except (CommandError, subprocess.TimeoutExpired) as exc:
                    row.error = str(exc)[:200]
            if key == "hello" and row.result is not None:
                hello = row.result.rps
            row.hello_rps = hello
            if row.result is not None and (row.result.non_2xx or row.result.failed):
                row.error = f"{row.result.non_2xx} non-2xx, {row.result.failed} failed"
            self.rows.append(row)
            self.write("    " + format_row(row))

    def run(self) -> None:
        options = self.options
        self.collectstatic()
        with override_settings(SECRET_KEY=self.secret_key, FIELD_ENCRYPTION_KEY=self.field_key):
            actor = User.objects.create_superuser(username="bench", email="", password=None)
            coordinator = User.objects.create_user(username="bench-coordinator", password=None)
            have = 0
            station: Unit | None = None
            cookie = ""
            for size in sorted(set(options.sizes)):
                self.build_to(actor, have, size)
                have = size
                if station is None:
                    county = Unit.objects.get(parent=None, name=COUNTY_NAME)
                    services.role_grant(
                        actor=actor, user=coordinator, unit=county, role=Role.COORDINATOR
                    )
                    station = (
                        Unit.objects.within(county)
                        .filter(kind=UnitKind.STATION)
                        .order_by("lft")
                        .first()
                    )
                    if station is None:
                        raise CommandError("The bench county has no station.")
                    cookie = self.session_cookie(coordinator)
                urls = {
                    "hello": HELLO_PATH,
                    "home": "/",
                    "tree": "/units/",
                    "station": f"/units/{station.pk}/",
                    "api": "/api/v1/units/?page_size=100",
                }
                for page_cache in (True, False):
                    modes = [
                        m
                        for m in (("cached", "staff") if page_cache else ("uncached",))
                        if m in options.modes
                    ]
                    if not modes:
                        continue
                    env = self.server_env(page_cache=page_cache)
                    with Server(
                        env=env, options=options, log=self.workdir / "gunicorn.log"
                    ) as server:
                        for mode in modes:
                            self.write(f"  {size} counties, {MODE_LABELS[mode]}:")
                            self.measure(
                                server, size, mode, urls, cookie if mode == "staff" else ""
                            )

    # --- reporting ---------------------------------------------------------------------

    def table(self) -> list[str]:
        return load_table(self.rows)

    def verdicts(self) -> list[str]:
        return target_verdicts(self.rows)


def format_row(row: LoadRow) -> str:
    if row.result is None or row.error:
        return f"{row.url:<32} ERROR {row.error}"
    r = row.result
    share = f"1/{row.share:.1f}" if row.share is not None else "—"
    return (
        f"{row.url:<32} {r.rps:>9.1f} req/s  p50 {r.p50:>5} ms  p95 {r.p95:>5} ms  "
        f"max {r.longest:>5} ms  {share:>8}  ({r.complete} requests, "
        f"page cache: {row.page_cache or '—'})"
    )


def load_table(rows: list[LoadRow]) -> list[str]:
    """One line per URL: req/s, p50, p95 and ratio to hello-world, by size and mode."""
    header = (
        f"{'counties':>8} {'units':>7}  {'mode':<8}  {'url':<30} {'req/s':>8} {'p50 ms':>7} "
        f"{'p95 ms':>7} {'max ms':>7} {'÷ hello':>8} {'KB':>5}  cache"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        prefix = f"{row.size:>8} {row.units:>7}  {row.mode:<8}  {row.url:<30}"
        if row.result is None or row.error:
            lines.append(f"{prefix} ERROR {row.error}")
            continue
        r = row.result
        share = f"1/{row.share:.1f}" if row.share is not None else "—"
        lines.append(
            f"{prefix} {r.rps:>8.1f} {r.p50 or 0:>7} {r.p95 or 0:>7} {r.longest or 0:>7} "
            f"{share:>8} {r.mean_bytes / 1024:>5.0f}  {row.page_cache or '—'}"
        )
    return lines


def target_verdicts(rows: list[LoadRow]) -> list[str]:
    """Each target of issue 6 met or missed, from the rows measured."""
    lines: list[str] = []
    by = {(r.size, r.mode, r.url_key): r for r in rows if r.result is not None and not r.error}
    sizes = sorted({r.size for r in rows})
    if not sizes:
        return lines
    smallest, largest = sizes[0], sizes[-1]
    for target in TARGETS:
        for size in sizes:
            row = by.get((size, target.mode, target.url))
            if row is None or row.share is None:
                continue
            met = row.share <= target.ceiling_share
            lines.append(
                f"{'met   ' if met else 'MISSED'} {target.mode} {target.url} at {size} "
                f"counties: 1/{row.share:.1f} (target ≥ 1/{target.ceiling_share})"
            )
    if largest != smallest:
        for target in TARGETS:
            row, base = (
                by.get((largest, target.mode, target.url)),
                by.get((smallest, target.mode, target.url)),
            )
            if row is None or base is None or row.share is None or base.share is None:
                continue
            # Shares of the same run's ceiling: what the machine's speed does not change.
            factor = row.share / base.share
            met = factor <= FLAT_WITHIN
            lines.append(
                f"{'met   ' if met else 'MISSED'} {target.mode} {target.url}: 1/{row.share:.1f} "
                f"at {largest} counties, 1/{base.share:.1f} at {smallest}: {factor:.2f}× "
                f"(target ≤ {FLAT_WITHIN}×)"
            )
    slow = [
        (row, row.result.longest)
        for row in by.values()
        if row.result is not None and (row.result.longest or 0) > SLOW_MS
    ]
    for row, longest in slow:
        lines.append(
            f"MISSED {row.mode} {row.url_key} at {row.size} counties: a request took "
            f"{longest} ms (target ≤ {SLOW_MS} ms)"
        )
    if not slow:
        lines.append(f"met    no request took longer than {SLOW_MS} ms")
    return lines


def find_ab() -> str | None:
    return shutil.which("ab")


def gunicorn_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("gunicorn") is not None


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="portal-bench-load-") as path:
        yield Path(path)


def run_load(options: LoadOptions, write: Callable[[str], None]) -> dict[str, Any]:
    """Run the load section in the database ``connection`` points at (a throwaway one).
    Returns the JSON of the figures; ``{"skipped": why}`` when a tool is missing."""
    ab = find_ab()
    if ab is None:
        why = (
            "ApacheBench (`ab`) is not installed, so the load section did not run. "
            "Install it (Debian/Ubuntu: `apt-get install apache2-utils`) and run "
            "`make bench BENCH_ARGS='--sections load'`."
        )
        write(f"LOAD SECTION SKIPPED: {why}")
        return {"skipped": why}
    if not gunicorn_available():
        why = "gunicorn is not installed in this environment (`pip install gunicorn`)."
        write(f"LOAD SECTION SKIPPED: {why}")
        return {"skipped": why}
    write(
        f"Load: gunicorn ({options.workers} workers × {options.threads} thread), production "
        f"settings, ab at concurrency {options.concurrency}, ≤ {options.requests} requests "
        f"and ≤ {options.seconds} s per URL; sizes {', '.join(map(str, options.sizes))} "
        "counties"
    )
    with workdir() as path:
        bench = LoadBench(options=options, write=write, ab=ab, workdir=path)
        bench.run()
    return {
        "options": asdict(options),
        "build_ms": {str(k): round(v, 1) for k, v in bench.builds.items()},
        "units": {str(k): v for k, v in bench.units.items()},
        "rows": [row.as_json() for row in bench.rows],
        "table": bench.table(),
        "verdicts": bench.verdicts(),
    }
