"""schemathesis against the live service (real broker): no 5xx, no response off the spec."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from ingest.ops import OPENAPI_PATH

schema = schemathesis.openapi.from_path(OPENAPI_PATH)
# Valid and invalid data, strings over all of Unicode that UTF-8 carries (NUL included), not
# only ASCII: ids, items and guilds in any script reach the validator and the publisher.
schema.config.generation.update(
    modes=["positive", "negative"], codec="utf-8", allow_x00=True, max_examples=50
)
# Invalid data is refused when the answer is one of these. Over gunicorn's 4,094-byte request
# line (ids over their 128 characters, each percent-encoded UTF-8), gunicorn refuses it with
# 414 before the app sees it.
rejection = schema.config.checks.negative_data_rejection
rejection.expected_statuses = [*rejection.expected_statuses, "414"]


@pytest.fixture(scope="module")
def live_url(kafka_admin, tmp_path_factory):
    from stack.ingest_process import ingest_server
    from tests.helpers.stack import free_port, new_topic

    topic = new_topic(kafka_admin)
    log = tmp_path_factory.mktemp("contract") / "ingest.log"
    with ingest_server(free_port(), env={"QUESTLOG_TOPIC": topic}, log_path=log) as url:
        yield url


@schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_every_route_answers_within_its_spec(case, live_url):
    response = case.call_and_validate(base_url=live_url)
    assert response.status_code < 500
