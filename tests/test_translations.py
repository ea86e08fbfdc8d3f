"""The translation catalogs are complete, match the code, and the pages really use them.

Simplified Chinese is the default language; English is the second one. Both catalogs live in
``locale/<locale>/LC_MESSAGES/django.po`` (see docs/translations.md). The compiled ``.mo``
files are not committed: ``make test`` compiles them first, and the ``compiled_catalogs``
fixture below compiles any that are missing or older than their ``.po``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
DOMAIN = "django"
# locale directory name → (Django language code, Plural-Forms header)
LOCALES = {
    "zh_Hans": ("zh-hans", "nplurals=1; plural=0;"),
    "en": ("en", "nplurals=2; plural=(n != 1);"),
}
# What `make messages` skips, besides Django's defaults (dot-files, *~, *.pyc, CVS).
NOT_SCANNED = {".venv", "staticfiles", "tests", "locale", "media", "node_modules"}
SCANNED_EXTENSIONS = {".py", ".html", ".txt"}
# English msgids that may stay as they are in the Chinese catalog (brand names, acronyms…).
SAME_IN_CHINESE: set[str] = set()

PLACEHOLDER = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.\d+)?[a-zA-Z%]")
# Han characters, or CJK / full-width punctuation (a list separator "、" is Chinese too).
CJK = re.compile(r"[\u4e00-\u9fff\u3000-\u303f\uff00-\uffef]")


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(path: Path, locale: str) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def label(message: Message) -> str:
    msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
    where = ", ".join(f"{file}:{line}" for file, line in message.locations[:2])
    context = f" [{message.context}]" if message.context else ""
    return f"{msgid!r}{context} ({where or 'no location'})"


def key(message: Message) -> tuple[str | None, str, str | None]:
    if isinstance(message.id, tuple | list):
        return message.context, message.id[0], message.id[1]
    return message.context, message.id, None


def forms(message: Message) -> list[str]:
    if isinstance(message.string, tuple | list):
        return [s or "" for s in message.string]
    return [message.string or ""]


def placeholders(text: str) -> tuple[set[str], list[str]]:
    """Named placeholders (as a set: order is free) and positional ones (in order)."""
    named: set[str] = set()
    positional: list[str] = []
    for match in PLACEHOLDER.finditer(text):
        if match.group() == "%%":
            continue
        if match.group("name") is not None:
            named.add(match.group())
        else:
            positional.append(match.group()[-1])
    return named, positional


def placeholder_problem(message: Message) -> str | None:
    if "python-format" not in message.flags:
        return None
    if isinstance(message.id, tuple | list):
        singular, plural = message.id[0], message.id[1]
    else:
        singular = plural = message.id
    strings = forms(message)
    allowed = placeholders(singular)[0] | placeholders(plural)[0]
    for index, text in enumerate(strings):
        named, positional = placeholders(text)
        # The last form covers "many": it must carry every placeholder of the plural msgid.
        # Earlier forms (English "one") may drop the number but must not invent names.
        reference = placeholders(plural if index == len(strings) - 1 else singular)
        if positional != reference[1]:
            return f"msgstr[{index}] has %-placeholders {positional}, expected {reference[1]}"
        if index == len(strings) - 1 and named != reference[0]:
            return f"msgstr[{index}] has {sorted(named)}, expected {sorted(reference[0])}"
        if not named <= allowed:
            return f"msgstr[{index}] uses {sorted(named - allowed)}, not in the msgid"
    return None


def compile_catalog(locale: str) -> None:
    catalog = load(po_path(locale), locale)
    with po_path(locale).with_suffix(".mo").open("wb") as f:
        write_mo(f, catalog, use_fuzzy=False)


@pytest.fixture(scope="session")
def compiled_catalogs() -> None:
    """Compile any ``.mo`` that is missing or older than its ``.po`` (``make test`` does it too)."""
    compiled = False
    for locale in LOCALES:
        po, mo = po_path(locale), po_path(locale).with_suffix(".mo")
        if po.exists() and (not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime):
            compile_catalog(locale)
            compiled = True
    if compiled:
        # Django caches the catalogs it has loaded (and whether they exist); changing
        # LOCALE_PATHS, even to the same value, makes it drop those caches.
        with override_settings(LOCALE_PATHS=list(settings.LOCALE_PATHS)):
            pass


# --- (a) the catalogs are complete ------------------------------------------------------------


@pytest.mark.parametrize("locale", LOCALES)
def test_catalog_is_complete_and_consistent(locale: str) -> None:
    catalog = load(po_path(locale), locale)
    problems: list[str] = []
    for message in catalog:
        if not message.id:
            continue
        strings = forms(message)
        if message.fuzzy:
            problems.append(f"fuzzy: {label(message)}")
        if len(strings) != catalog.num_plurals and message.pluralizable:
            problems.append(
                f"{len(strings)} plural forms, expected {catalog.num_plurals}: {label(message)}"
            )
        if not all(s.strip() for s in strings):
            problems.append(f"untranslated: {label(message)}")
            continue
        problem = placeholder_problem(message)
        if problem:
            problems.append(f"placeholders: {label(message)}: {problem}")
        if (
            locale == "zh_Hans"
            and not any(CJK.search(s) for s in strings)
            and key(message)[1] not in SAME_IN_CHINESE
        ):
            problems.append(f"no Chinese in the translation: {label(message)}")
    assert not problems, f"{po_path(locale).relative_to(settings.BASE_DIR)}:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize(("locale", "plural_forms"), [(k, v[1]) for k, v in LOCALES.items()])
def test_catalog_header(locale: str, plural_forms: str) -> None:
    catalog = load(po_path(locale), locale)
    headers = dict(catalog.mime_headers)
    assert headers["Plural-Forms"] == plural_forms
    assert headers["Content-Type"].lower() == "text/plain; charset=utf-8"
    assert headers.get("Language") == locale
    assert not catalog.fuzzy, "the header is marked fuzzy: msgfmt and pybabel would skip it"


def test_both_languages_list_the_same_messages() -> None:
    zh = {key(m) for m in load(po_path("zh_Hans"), "zh_Hans") if m.id}
    en = {key(m) for m in load(po_path("en"), "en") if m.id}
    assert sorted(zh - en, key=str) == [], "only in zh_Hans; run `make messages`"
    assert sorted(en - zh, key=str) == [], "only in en; run `make messages`"


# --- (b) every translatable string of the code is in the catalog ------------------------------


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext is not installed")
def test_every_marked_string_is_in_the_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run ``makemessages`` on a copy of the sources and compare with the committed catalog."""
    source = tmp_path / "src"
    base = Path(settings.BASE_DIR)
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        dirnames[:] = [
            d
            for d in dirnames
            if not d.startswith(".")
            and d != "__pycache__"
            and not (here == base and d in NOT_SCANNED)
        ]
        for name in filenames:
            if Path(name).suffix in SCANNED_EXTENSIONS and not name.startswith("."):
                target = source / here.relative_to(base) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(here / name, target)
    monkeypatch.chdir(source)
    with override_settings(LOCALE_PATHS=[str(tmp_path / "locale")]):
        call_command("makemessages", locale=["zh_Hans"], verbosity=0)
    extracted = load(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / f"{DOMAIN}.po", "zh_Hans")
    committed = {key(m) for m in load(po_path("zh_Hans"), "zh_Hans") if m.id}
    missing = [label(m) for m in extracted if m.id and key(m) not in committed]
    assert not missing, (
        "strings marked for translation but missing from the catalogs; run `make messages`, "
        "translate them and `make compilemessages`:\n" + "\n".join(missing)
    )


# --- (c) the pages and the API speak the right language ---------------------------------------


@pytest.fixture
def pages(db: Any, compiled_catalogs: None) -> Iterator[Client]:
    yield Client()
    translation.deactivate()


def test_pages_are_in_chinese_by_default(pages: Client) -> None:
    response = pages.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")  # the browser is ignored
    html = response.content.decode()
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "zh-hans"
    assert '<html lang="zh-hans">' in html
    for text in ("首页", "阵地网络", "登录", "成为志愿者", "实践站"):
        assert text in html
    assert "Log in" not in html


def test_language_cookie_switches_pages_to_english(pages: Client) -> None:
    pages.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = pages.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert response.headers["Content-Language"] == "en"
    assert '<html lang="en">' in html
    for text in ("Home", "Network", "Log in", "Become a volunteer", "Practice station"):
        assert text in html
    for text in ("首页", "阵地网络", "登录"):
        assert text not in html


@pytest.mark.parametrize(
    ("accept_language", "language"),
    [(None, "zh-hans"), ("en", "en"), ("en-US,en;q=0.9", "en"), ("fr", "zh-hans")],
)
def test_api_honours_accept_language(
    pages: Client, accept_language: str | None, language: str
) -> None:
    headers = {"HTTP_ACCEPT_LANGUAGE": accept_language} if accept_language else {}
    response = pages.get("/api/v1/units/999999/", **headers)
    assert response.status_code == 404
    assert response.headers["Content-Language"] == language
    message = response.json()["message"]
    if language == "en":
        assert message == "Not found."
    else:
        with translation.override("zh-hans"):
            assert message == translation.gettext("Not found.")
        assert CJK.search(message), message


def test_language_cookie_wins_over_accept_language_on_the_api(pages: Client) -> None:
    pages.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = pages.get("/api/v1/units/999999/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert response.status_code == 404
    assert response.json()["message"] == "Not found."
