"""No 500 from input, and every API error in the contract's shape and the user's language.

``{"code", "message", "detail"}`` for every error under ``/api/`` — DRF's, Django's (an
unknown address, a body over the limit), and a server error itself — with ``message`` in
Chinese unless the client asks for English. Deeply nested JSON, ids out of range and
fractional ids are a 400, on SQLite and PostgreSQL alike; the OpenAPI schema declares the
error responses of every operation.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from portal.api.parsers import MAX_DEPTH
from practice import selectors
from practice.models import RoleAssignment, Unit
from tests.conftest import World

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("compiled_catalogs")]

HUGE = "99999999999999999999"  # 20 digits: more than any database id
CJK = re.compile(r"[\u4e00-\u9fff]")


def error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The JSON error body of ``response``, checked against the contract."""
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    assert set(body) == {"code", "message", "detail"}, body
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["detail"], dict)
    if code is not None:
        assert body["code"] == code, body
    return body


def english(client: APIClient) -> APIClient:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


# --- nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 100_000, "[" * 100_000 + "]" * 100_000])
def test_deeply_nested_json_is_a_400(world: World, api: Any, body: str) -> None:
    # Python's parser recursed once per level: a RecursionError, a 500.
    for language in ("zh-hans", "en"):
        client = api(world.coordinator)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
        response = client.post("/api/v1/units/", body, content_type="application/json")
        message = error(response, 400, "parse_error")["message"]
    assert "nested too deeply" in message


def test_nesting_is_bounded_even_where_the_parser_copes(world: World, api: Any) -> None:
    client = english(api(world.coordinator))
    deep = "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)
    body = error(client.post("/api/v1/units/", deep, content_type="application/json"), 400)
    assert str(MAX_DEPTH) in body["message"]
    fine = {"name": "五村站", "kind": "station", "parent": world.town.pk}
    assert client.post("/api/v1/units/", fine, format="json").status_code == 201


# --- ids: out of range, fractional ------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/units/?parent={HUGE}",
        f"/api/v1/units/?within={HUGE}",
        "/api/v1/units/?parent=1.5",
        "/api/v1/units/?within=1.5",
        "/api/v1/units/?parent=１",
        f"/api/v1/roles/?user={HUGE}",
        f"/api/v1/roles/?unit={HUGE}",
        "/api/v1/roles/?unit=2.5",
    ],
)
def test_ids_in_filters_out_of_range_or_fractional_are_a_400(
    world: World, api: Any, path: str
) -> None:
    body = error(english(api(world.coordinator)).get(path), 400, "invalid")
    [field] = body["detail"]
    assert "whole number" in body["detail"][field][0]


def test_a_fractional_parent_filter_is_not_truncated(world: World, api: Any) -> None:
    # parent=1.5 used to list the children of unit 1.
    response = api(world.coordinator).get(f"/api/v1/units/?parent={world.centre.pk}.5")
    error(response, 400)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/units/{HUGE}/",
        f"/api/v1/units/{HUGE}/stats/",
        f"/api/v1/roles/{HUGE}/",
        f"/api/v1/users/{HUGE}/",
        "/api/v1/units/9223372036854775808/",
        "/api/v1/units/0/",
    ],
)
def test_ids_in_api_paths_out_of_range_are_a_400(world: World, api: Any, path: str) -> None:
    body = error(english(api(world.coordinator)).get(path), 400, "invalid")
    assert "whole number from 1 to" in body["message"]


@pytest.mark.parametrize("path", ["/api/v1/units/1.5/", "/api/v1/units/abc/", "/api/v1/units/-1/"])
def test_non_numeric_ids_in_api_paths_are_a_json_404(world: World, api: Any, path: str) -> None:
    error(api(world.coordinator).get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "payload", "field"),
    [
        ("/api/v1/units/", '{"name": "x", "kind": "station", "parent": 1e30}', "parent"),
        ("/api/v1/units/", f'{{"name": "x", "kind": "station", "parent": {HUGE}}}', "parent"),
        ("/api/v1/roles/", f'{{"user": {HUGE}, "unit": 1, "role": "manager"}}', "user"),
        ("/api/v1/roles/", '{"user": 1, "unit": 1e300, "role": "manager"}', "unit"),
        (
            "/api/v1/users/",
            f'{{"username": "u1", "password": "Hard-to-guess-42", "unit": {HUGE}, '
            '"role": "manager"}',
            "unit",
        ),
    ],
)
def test_ids_in_bodies_out_of_range_are_a_400(
    world: World, api: Any, path: str, payload: str, field: str
) -> None:
    response = english(api(world.coordinator)).post(path, payload, content_type="application/json")
    body = error(response, 400, "invalid")
    assert "whole number from 1 to" in body["detail"][field][0]


def test_a_fractional_id_in_a_body_is_refused_not_truncated(world: World, api: Any) -> None:
    client = english(api(world.coordinator))
    # A station under town.pk + 0.5 used to be created under the town itself.
    payload = f'{{"name": "五村站", "kind": "station", "parent": {world.town.pk}.5}}'
    body = error(client.post("/api/v1/units/", payload, content_type="application/json"), 400)
    assert body["detail"]["parent"] == ["Enter a valid id: a whole number."]
    grant = f'{{"user": {world.no_role.pk}.5, "unit": {world.town.pk}, "role": "manager"}}'
    error(client.post("/api/v1/roles/", grant, content_type="application/json"), 400)
    assert not Unit.objects.filter(name="五村站").exists()
    assert not RoleAssignment.objects.filter(user=world.no_role).exists()


def test_a_whole_number_written_as_a_float_is_an_id(world: World, api: Any) -> None:
    # JSON Schema's integer includes 1.0; only fractions are refused.
    payload = f'{{"name": "五村站", "kind": "station", "parent": {world.town.pk}.0}}'
    response = api(world.coordinator).post(
        "/api/v1/units/", payload, content_type="application/json"
    )
    assert response.status_code == 201
    assert Unit.objects.get(name="五村站").parent == world.town


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/units/{HUGE}/", 400),
        (f"/units/{HUGE}/edit/", 400),
        (f"/staff/users/{HUGE}/edit/", 400),
        ("/units/1.5/", 404),
        (f"/units/?within={HUGE}", 400),
        ("/units/?within=²", 400),  # "²".isdigit() is true; int("²") is not
        ("/units/?within=1.5", 400),
        (f"/units/?q=站&parent={HUGE}", 200),  # the search says the filter is wrong
        (f"/units/?q=站&within={HUGE}", 400),
    ],
)
def test_pages_answer_bad_ids_without_a_server_error(
    world: World, browser_client: Any, path: str, status: int
) -> None:
    client = browser_client(world.coordinator)
    client.raise_request_exception = False
    response = client.get(path)
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("text/html")


def test_a_search_with_a_bad_parent_filter_finds_nothing(world: World, browser_client: Any) -> None:
    response = browser_client(world.coordinator).get(f"/units/?q=站&parent={HUGE}")
    assert "parent" in response.context["filterset"].form.errors
    assert not response.context.get("results")


# --- the error shape for what happens outside the views ---------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/nope/", "/api/v1/units/1/nope/", "/api/v2/units/", "/api/nope"]
)
def test_unknown_api_paths_are_a_json_404(world: World, api: Any, path: str) -> None:
    error(api(world.coordinator).get(path), 404, "not_found")


def test_a_body_over_the_limit_is_a_413(world: World, api: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    client = english(api(world.coordinator))
    big = json.dumps({"name": "x" * 20_000, "kind": "station", "parent": world.town.pk})
    body = error(client.post("/api/v1/units/", big, content_type="application/json"), 413)
    assert body["code"] == "too_large" and "too large" in body["message"]
    form = {"name": "x" * 20_000, "kind": "station"}
    error(client.patch(f"/api/v1/units/{world.station.pk}/", form, format="multipart"), 413)


def test_too_many_form_fields_is_a_400(world: World, api: Any, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    data = "&".join(f"f{i}=1" for i in range(20))
    response = api(world.coordinator).post(
        "/api/v1/units/", data, content_type="application/x-www-form-urlencoded"
    )
    error(response, 400, "too_many_fields")


def test_method_and_media_type_refusals_keep_the_shape(world: World, api: Any) -> None:
    client = api(world.coordinator)
    error(client.put(f"/api/v1/units/{world.station.pk}/", {}, format="json"), 405)
    error(client.post("/api/v1/units/", "name=x", content_type="text/plain"), 415)


def test_a_server_error_under_api_is_json_and_neutral(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret detail /srv/portal/db.sqlite3")

    monkeypatch.setattr(selectors, "categories", boom)
    client = APIClient(raise_request_exception=False)
    body = error(client.get("/api/v1/categories/"), 500, "server_error")
    assert "secret" not in json.dumps(body) and CJK.search(body["message"])
    english(client)
    assert "try again" in error(client.get("/api/v1/categories/"), 500)["message"]


def test_a_server_error_on_a_page_shows_the_standalone_500_page(
    world: World, monkeypatch: pytest.MonkeyPatch, django_assert_num_queries: Any
) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret")

    monkeypatch.setattr(selectors, "network_counts", boom)
    response = Client(raise_request_exception=False).get("/")
    assert response.status_code == 500
    assert "500.html" in [t.name for t in response.templates]
    assert b"secret" not in response.content
    with django_assert_num_queries(0):  # it must render when the database is what failed
        html = render_to_string("500.html")
    assert 'href="/"' in html


# --- messages in the request's language ---------------------------------------------------------


def _requests(world: World) -> list[tuple[str, str, Any, str | None, int]]:
    """(method, path, body, content type, status): a sample of every kind of refusal."""
    unit = f"/api/v1/units/{world.station.pk}/"
    return [
        ("get", "/api/v1/nope/", None, None, 404),
        ("get", f"/api/v1/units/?parent={HUGE}", None, None, 400),
        ("get", "/api/v1/units/?parent=1.5", None, None, 400),
        ("get", f"/api/v1/units/{HUGE}/", None, None, 400),
        ("get", "/api/v1/units/?page=999", None, None, 404),
        ("get", "/api/v1/units/?kind=nope", None, None, 400),
        ("post", "/api/v1/units/", "{", "application/json", 400),
        ("post", "/api/v1/units/", "[" * 5000, "application/json", 400),
        ("post", "/api/v1/units/", '{"name": NaN}', "application/json", 400),
        ("post", "/api/v1/units/", b"\xff\xfe", "application/json", 400),
        ("post", "/api/v1/units/", "{}", "application/json; charset=bz2_codec", 400),
        ("post", "/api/v1/units/", "x", "text/plain", 415),
        ("post", "/api/v1/units/", "x", "multipart/form-data", 400),  # no boundary
        ("post", f"{unit}import/", "x", "multipart/form-data; boundary=", 400),
        ("put", unit, "{}", "application/json", 405),
        ("patch", unit, '{"name": "一村\\u0007站"}', "application/json", 400),
        ("patch", unit, '{"latitude": "north"}', "application/json", 400),
        ("patch", unit, '{"latitude": 1e400}', "application/json", 400),
        ("patch", unit, '{"parent": 1.5}', "application/json", 400),
        ("post", "/api/v1/units/", '{"kind": "station"}', "application/json", 400),
        (
            "post",
            "/api/v1/users/",
            '{"username": "wangwu", "password": "short"}',
            "application/json",
            400,
        ),
        (
            "post",
            "/api/v1/users/",
            '{"username": "wangwu", "password": "12345678901"}',
            "application/json",
            400,
        ),
    ]


def _messages(body: dict[str, Any]) -> list[str]:
    return [body["message"]] + [m for ms in body["detail"].values() for m in ms]


def test_error_messages_are_chinese_by_default_and_english_on_request(
    world: World, api: Any
) -> None:
    english_in_chinese = []
    for method, path, payload, content_type, status in _requests(world):
        for language in ("zh-hans", "en"):
            client = api(world.coordinator)
            client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
            kwargs = {"content_type": content_type} if content_type else {}
            body = error(getattr(client, method)(path, payload, **kwargs), status)
            messages = _messages(body)
            if language == "en":
                assert not any(CJK.search(m) for m in messages), (path, body)
            else:
                english_in_chinese += [(path, m) for m in messages if not CJK.search(m)]
    assert not english_in_chinese


def test_password_rules_speak_chinese(world: World, api: Any) -> None:
    # Django 5.2's "too short" message is missing from its own zh_Hans catalog.
    response = api(world.coordinator).post(
        "/api/v1/users/", {"username": "wangwu", "password": "Ab3-x"}, format="json"
    )
    body = error(response, 400, "weak_password")
    assert all(CJK.search(m) for m in body["detail"]["password"]), body


def test_a_failed_csrf_check_is_a_translated_403(world: World) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.coordinator)
    response = client.post("/api/v1/units/", {"name": "x"}, format="json")
    body = error(response, 403, "csrf_failed")
    assert CJK.search(body["message"]) and "CSRF" in body["message"]


def test_an_anonymous_write_is_a_401_in_shape(world: World) -> None:
    body = error(APIClient().post("/api/v1/units/", {}, format="json"), 401)
    assert CJK.search(body["message"])


# --- the schema declares the errors -----------------------------------------------------------


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    schema: dict[str, Any] = SchemaGenerator().get_schema(request=None, public=True)
    return schema


def test_the_schema_has_the_error_component(openapi: dict[str, Any]) -> None:
    error_schema = openapi["components"]["schemas"]["Error"]
    assert error_schema["required"] == ["code", "detail", "message"]


def _operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_operation_declares_its_error_responses(openapi: dict[str, Any]) -> None:
    ref = {"$ref": "#/components/schemas/Error"}
    problems = []
    for method, path, operation in _operations(openapi):
        responses = operation["responses"]
        expected = set()
        if operation.get("parameters") or "requestBody" in operation:
            expected.add("400")
        if "{id}" in path:
            expected |= {"404"}
        if method in {"POST", "PATCH", "PUT"}:
            expected |= {"413", "415"}
        if path != "/api/v1/auth/token/":
            expected.add("401")
            if method != "GET":
                expected |= {"403", "409"}
        expected.add("429")
        missing = expected - set(responses)
        if missing:
            problems.append(f"{method} {path}: {sorted(missing)} not declared")
        for status, response in responses.items():
            if status >= "400" and response["content"]["application/json"]["schema"] != ref:
                problems.append(f"{method} {path}: {status} is not an Error")
    assert not problems, "\n".join(problems)


def test_a_views_own_error_description_is_kept(openapi: dict[str, Any]) -> None:
    response = openapi["paths"]["/api/v1/units/{id}/import/"]["post"]["responses"]["413"]
    assert response["description"] != "The request body or upload is too large."
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_ids_are_bounded_in_the_schema(openapi: dict[str, Any]) -> None:
    id_parameter = openapi["paths"]["/api/v1/units/{id}/"]["get"]["parameters"][0]
    assert id_parameter["schema"]["maximum"] == 2**63 - 1
    assert id_parameter["schema"]["minimum"] == 1
    parent = openapi["components"]["schemas"]["Unit"]["properties"]["parent"]
    assert (parent["minimum"], parent["maximum"]) == (1, 2**63 - 1)


def test_the_schema_validates_without_warnings(tmp_path: Path) -> None:
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
