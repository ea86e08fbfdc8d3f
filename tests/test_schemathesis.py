"""schemathesis over ``/api/schema/``: no server errors, no undeclared status codes.

Every operation of the schema is called in-process (WSGI) with generated valid and invalid
input, as a county coordinator of the ``world`` fixture with an API token, so the scoped
and writing endpoints are exercised too, not only their 401. Each response must not be a
5xx, must have a status code the operation declares (the error responses come from
``portal.api.schema``), the declared content type, and a body matching its schema — the
``Error`` component for every error.

Deterministic for CI: hypothesis is derandomized (the same cases every run) and the
number of cases per operation is fixed; on a 2-core machine the run takes well under a
minute. ``SCHEMATHESIS_EXAMPLES`` raises the number for a longer local hunt.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import World

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Loaded while the tests are collected, through the app itself: the schema view needs no
# database. (schemathesis.pytest.from_fixture would load it per test, but its lazy loader
# does not run under pytest 9.)
schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())


@pytest.fixture(autouse=True)
def _keep_connection() -> Iterator[None]:
    """Requests run in this thread, inside the test's transaction: Django must not close
    the connection between them (its test client disconnects these signals the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(world: World) -> str:
    return str(Token.objects.create(user=world.coordinator).key)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_its_schema_says(case: Any, token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
