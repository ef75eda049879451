"""Logs: JSON lines with context, secrets masked (filter tested on real records); metrics:
the Prometheus text format."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from reconciler.service.metrics import Registry, ServiceMetrics, error_class
from reconciler.service.observability import (
    MASK,
    SecretMasker,
    bind_context,
    configure_logging,
    log_context,
    masker,
)
from reconciler.settings import Settings


@pytest.fixture
def captured(tmp_path: object) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    settings = Settings(
        env="test",
        data_dir=str(tmp_path),
        log_json=True,
        log_level="DEBUG",
        oauth_client_id="client",
        oauth_client_secret="client-secret-value-1234",
    )
    handler = configure_logging(settings, stream=stream)
    try:
        yield stream
    finally:
        logging.getLogger().removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


SECRETS = [
    ("Authorization: Bearer abc.def-ghi_123", "abc.def-ghi_123"),
    ("token pit-0b7e4c2a-1d4f-4a8e-9c1b-2f3e4d5c6b7a used", "0b7e4c2a-1d4f"),
    ("refresh_token=sbx-rt-AbCdEfGh12345678XyZ and more", "AbCdEfGh12345678"),
    ('{"client_secret": "s3cr3t-value-here"}', "s3cr3t-value-here"),
    ("GET /oauth/callback?code=Zx81kq0aa&state=abc.def HTTP/1.1", "Zx81kq0aa"),
    ("key rk_0123456789ab_QWERTYUIOPasdfghjkl", "QWERTYUIOPasdfghjkl"),
    ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0NTY3.SflKxwRJSMeKKF2QT4", "SflKxwRJSMeKKF2QT4"),
    ("blob gAAAAABnZ3VhbGl0eS1kYXRhLWhlcmUtZm9yLXRlc3Q=", "bnZ3VhbGl0eS1kYXRh"),
    ("the app secret is client-secret-value-1234", "client-secret-value-1234"),
    ("X-Sandbox-Admin-Key: sbx-admin-abcdefgh12345678", "abcdefgh12345678"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_secrets_are_masked_in_messages(captured: io.StringIO, text: str, secret: str) -> None:
    logging.getLogger("test.mask").info("seen: %s", text)
    (line,) = lines(captured)
    assert secret not in json.dumps(line)
    assert MASK in str(line["message"])


def test_secrets_are_masked_in_extra_fields_and_tracebacks(captured: io.StringIO) -> None:
    log = logging.getLogger("test.mask")
    try:
        raise ValueError("refused Bearer sekrit-token-value")
    except ValueError:
        log.exception(
            "failed",
            extra={"access_token": "plain-value-xyz", "url": "/x?code=abc123def", "n": 3},
        )
    (line,) = lines(captured)
    text = json.dumps(line)
    for secret in ("sekrit-token-value", "plain-value-xyz", "abc123def"):
        assert secret not in text
    assert line["access_token"] == MASK
    assert line["n"] == 3
    assert "ValueError" in str(line["exception"])


def test_ordinary_text_is_left_alone(captured: io.StringIO) -> None:
    logging.getLogger("test.mask").info(
        "run %s finished: status code=400, 12 tokens spent", "run-1"
    )
    (line,) = lines(captured)
    assert line["message"] == "run run-1 finished: status code=400, 12 tokens spent"


def test_records_carry_the_log_context(captured: io.StringIO) -> None:
    log = logging.getLogger("test.context")
    with log_context(pair_id="p1", trigger="schedule"):
        log.info("inside")
        bind_context(run_id="r1")
        log.info("after bind")
    log.info("outside")
    inside, bound, outside = lines(captured)
    assert (inside["pair_id"], inside["trigger"]) == ("p1", "schedule")
    assert "run_id" not in inside
    assert bound["run_id"] == "r1"
    assert "pair_id" not in outside
    assert {"ts", "level", "logger", "message"} <= set(outside)


def test_text_format_for_terminals(tmp_path: object) -> None:
    stream = io.StringIO()
    handler = configure_logging(Settings(env="test", data_dir=str(tmp_path)), stream=stream)
    try:
        with log_context(pair_id="p9"):
            logging.getLogger("test.text").warning("hello Bearer abcdefgh")
    finally:
        logging.getLogger().removeHandler(handler)
    text = stream.getvalue()
    assert "WARNING" in text
    assert "[pair_id=p9]" in text
    assert "abcdefgh" not in text


def test_registered_literals_are_masked() -> None:
    local = SecretMasker()
    local.register("short")  # too short to mask safely
    local.register("a-long-enough-secret")
    assert local.mask("short a-long-enough-secret") == f"short {MASK}"
    assert masker.mask("nothing secret here") == "nothing secret here"


SAMPLE = re.compile(r'^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+]+|\+Inf|NaN)$')


async def test_metrics_exposition_format() -> None:
    metrics = ServiceMetrics(Registry())
    metrics.observe_run(
        pair_id='pair "1"\n',
        trigger="schedule",
        status="succeeded",
        seconds=1.5,
        counts={"create_note": 3, "add_tags": 0},
        conflicts_opened=2,
        errors=["AuthError: refused", "a message with spaces"],
        requests={"highlevel:loc1": 40},
        budget_left={"highlevel:loc1": 199_960, "memory:x": None},
    )
    metrics.webhooks.inc(outcome="accepted")
    text = await metrics.registry.render()
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# "):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ .+$", line), line
        else:
            assert SAMPLE.match(line), line
    assert (
        'reconciler_runs_total{pair="pair \\"1\\"\\n",trigger="schedule",status="succeeded"} 1'
        in text
    )
    assert 'reconciler_actions_total{pair="pair \\"1\\"\\n",kind="create_note"} 3' in text
    assert "add_tags" not in text
    assert 'reconciler_side_requests_total{location="highlevel:loc1"} 40' in text
    assert 'reconciler_side_budget_remaining_daily{location="highlevel:loc1"} 199960' in text
    assert "memory:x" not in text
    assert 'reconciler_run_duration_seconds_bucket{trigger="schedule",le="1"} 0' in text
    assert 'reconciler_run_duration_seconds_bucket{trigger="schedule",le="2.5"} 1' in text
    assert 'reconciler_run_duration_seconds_bucket{trigger="schedule",le="+Inf"} 1' in text
    assert 'reconciler_run_errors_total{pair="pair \\"1\\"\\n",error="AuthError"} 1' in text
    assert 'error="other"' in text
    assert "# TYPE reconciler_runs_total counter" in text
    assert "# TYPE reconciler_run_duration_seconds histogram" in text


def test_metric_misuse_is_refused() -> None:
    registry = Registry()
    counter = registry.counter("things_total", "Things.", ("kind",))
    with pytest.raises(ValueError, match="labels"):
        counter.inc(other="x")
    with pytest.raises(ValueError, match="only go up"):
        counter.inc(-1, kind="x")
    with pytest.raises(ValueError, match="twice"):
        registry.counter("things_total", "Again.")
    with pytest.raises(ValueError, match="_total"):
        registry.counter("things", "No suffix.")
    assert error_class("PermanentItemError: 422 for note") == "PermanentItemError"
