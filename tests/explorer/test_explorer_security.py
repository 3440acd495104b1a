"""Web explorer hardening: Host, Origin, Content-Type, body size and strict number types.

The app is built without warming the model up and every accepted request here stops at
validation (422), so no job runs: these tests need no compiled model.
"""

from __future__ import annotations

import asyncio
import json
import warnings

import pytest

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from starlette.testclient import TestClient  # noqa: E402

from gutskin.explorer.app import LIMITS, create_app  # noqa: E402

BASE = "http://127.0.0.1:8765"
#: A body that passes the guard and fails validation (so nothing is queued).
INVALID = {"patients": 0}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(warm_up=False, allowed_hosts=["gut.lab.example"]), BASE) as c:
        yield c


def _post(client, body, headers=None, url="/api/simulate"):
    h = {"content-type": "application/json", **(headers or {})}
    return client.post(url, content=json.dumps(body).encode(), headers=h)


# ------------------------------------------------------------------ Content-Type
@pytest.mark.parametrize(
    "ctype",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None, "json"],
)
def test_post_needs_application_json(client, ctype):
    headers = {} if ctype is None else {"content-type": ctype}
    for url in ("/api/simulate", "/api/trial"):
        r = client.post(url, content=b'{"patients": 1, "days": 1}', headers=headers)
        assert r.status_code == 415, r.text
        err = r.json()
        assert err["field"] == "Content-Type" and "application/json" in err["error"]


def test_json_with_charset_passes_the_guard(client):
    r = _post(client, INVALID, {"content-type": "application/json; charset=utf-8"})
    assert r.status_code == 422 and r.json()["field"] == "patients"


# ------------------------------------------------------------------ Host
@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.1:8765",
        "localhost",
        "LOCALHOST:1",
        "[::1]",
        "[::1]:8765",
        "gut.lab.example:8765",
    ],
)
def test_loopback_and_configured_hosts_pass(client, host):
    r = _post(client, INVALID, {"host": host})
    assert r.status_code == 422, r.text
    assert client.get("/api/health", headers={"host": host}).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8765",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "127.0.0.2",
        "testserver",
        "127.0.0.1:notaport",
        "[::1",
        "user@127.0.0.1",
    ],
)
def test_foreign_host_is_refused_on_every_route(client, host):
    for method, url in [
        ("POST", "/api/simulate"),
        ("POST", "/api/trial"),
        ("GET", "/"),
        ("GET", "/api/health"),
        ("GET", "/api/model"),
        ("GET", "/api/jobs/abc"),
        ("DELETE", "/api/jobs/abc"),
        ("GET", "/api/jobs/abc/files/trial/results.json"),
        ("GET", "/static/app.js"),
    ]:
        r = client.request(
            method,
            url,
            content=b'{"patients": 1, "days": 1}',
            headers={"host": host, "content-type": "application/json"},
        )
        assert r.status_code == 421, (method, url, r.status_code)
        err = r.json()
        assert err["field"] == "Host" and "allowed hosts" in err["error"]


def test_the_hostile_review_request_is_refused(client):
    """The review's curl: text/plain body, Origin and Host of evil.example."""
    r = client.post(
        "/api/simulate",
        content=b'{"patients":1,"days":1}',
        headers={
            "content-type": "text/plain",
            "origin": "http://evil.example",
            "host": "evil.example",
        },
    )
    assert r.status_code in (403, 415, 421)
    # each part alone is enough
    for headers, status in [
        ({"content-type": "text/plain"}, 415),
        ({"content-type": "application/json", "origin": "http://evil.example"}, 403),
        ({"content-type": "application/json", "host": "evil.example"}, 421),
    ]:
        assert client.post("/api/simulate", content=b"{}", headers=headers).status_code == status


# ------------------------------------------------------------------ Origin
@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("http://127.0.0.1:8765", "127.0.0.1:8765"),
        ("https://127.0.0.1:8765", "127.0.0.1:8765"),
        ("http://localhost:9000", "localhost:9000"),
        ("http://localhost", "localhost"),
        ("http://localhost:80", "localhost"),
        ("http://[::1]:8765", "[::1]:8765"),
    ],
)
def test_same_origin_passes(client, origin, host):
    r = _post(client, INVALID, {"origin": origin, "host": host})
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://evil.example:8765",
        "null",
        "file://",
        "http://127.0.0.1:3000",  # another local server is another origin
        "http://localhost:8765",  # same machine, but not the origin of this page
        "http://127.0.0.1.evil.example:8765",
        "ftp://127.0.0.1:8765",
        "garbage",
    ],
)
def test_foreign_origin_is_refused(client, origin):
    for method, url in [
        ("POST", "/api/simulate"),
        ("GET", "/api/model"),
        ("DELETE", "/api/jobs/abc"),
    ]:
        r = client.request(
            method,
            url,
            content=b"{}",
            headers={"origin": origin, "content-type": "application/json"},
        )
        assert r.status_code == 403, (origin, method, r.text)
        assert r.json()["field"] == "Origin" and "cross-origin" in r.json()["error"]


def test_no_origin_is_fine_for_non_browser_clients(client):
    assert _post(client, INVALID).status_code == 422
    assert client.get("/api/health").status_code == 200


# ------------------------------------------------------------------ body size
def test_declared_length_over_the_cap_is_refused_before_reading(client):
    cap = LIMITS["body_bytes"]
    r = client.post(
        "/api/simulate",
        content=b" " * (cap + 1),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413 and str(cap) in r.json()["error"]
    r = client.post(
        "/api/simulate",
        content=b"{}",
        headers={"content-type": "application/json", "content-length": "abc"},
    )
    assert r.status_code == 400 and r.json()["field"] == "Content-Length"


def test_body_at_the_cap_is_read(client):
    body = json.dumps(INVALID).encode()
    body += b" " * (LIMITS["body_bytes"] - len(body))
    r = client.post("/api/simulate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_chunked_body_over_the_cap_is_refused(client):
    def parts():
        for _ in range(8):
            yield b" " * 16384

    r = client.post("/api/simulate", content=parts(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def _asgi_post(app, headers, parts):
    """POST /api/simulate straight to the ASGI app; count the body pieces it read."""
    read = 0
    sent: list[dict] = []

    async def receive():
        nonlocal read
        if read < len(parts):
            read += 1
            return {"type": "http.request", "body": parts[read - 1], "more_body": True}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/simulate",
        "raw_path": b"/api/simulate",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], read


def test_streamed_read_stops_at_the_cap():
    """A 300 MB chunked body is refused after the first 64 KiB, not buffered whole."""
    app = create_app(warm_up=False)
    piece = b" " * 16384
    parts = [piece] * (300 * 2**20 // len(piece))
    headers = {"host": "127.0.0.1:8765", "content-type": "application/json"}
    status, read = _asgi_post(app, headers, parts)
    assert status == 413
    assert read <= LIMITS["body_bytes"] // len(piece) + 1
    # a body longer than its declared length is cut off at the cap too
    status, read = _asgi_post(app, {**headers, "content-length": "10"}, parts)
    assert status == 413 and read <= LIMITS["body_bytes"] // len(piece) + 1


def test_deeply_nested_json_is_a_400_not_a_crash(client):
    body = b"[" * 60000 + b"]" * 10
    r = client.post("/api/simulate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"regimens": [{"intervention": "\\ud800"}]}',
        b'{"baseline": {"\\udfff": 1}}',
        b'{"sex": "\\ud83d"}',
    ],
)
def test_a_lone_surrogate_is_a_400_not_a_500(client, body):
    """Issue 31: JSON can escape a lone surrogate that UTF-8 cannot encode."""
    r = client.post("/api/simulate", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "Unicode" in r.json()["error"]


# ------------------------------------------------------------------ strict types
@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"patients": True}, "patients", "whole number"),
        ({"patients": "10"}, "patients", "whole number"),
        ({"patients": 10.5}, "patients", "whole number"),
        ({"patients": 10.0}, "patients", "whole number"),
        ({"days": True}, "days", "number"),
        ({"days": "84"}, "days", "number"),
        ({"seed": False}, "seed", "whole number"),
        ({"seed": "1"}, "seed", "whole number"),
        ({"compare_untreated": "yes"}, "compare_untreated", "true or false"),
        ({"compare_untreated": 1}, "compare_untreated", "true or false"),
        ({"baseline": {"gut_dysbiosis": True}}, "baseline.gut_dysbiosis", "number"),
        ({"baseline": {"gut_dysbiosis": "1"}}, "baseline.gut_dysbiosis", "number"),
        ({"regimens": [{"intervention": "LS03", "dose": True}]}, "regimens[0].dose", "number"),
        ({"regimens": [{"intervention": "LS03", "dose": "1e9"}]}, "regimens[0].dose", "number"),
        (
            {"regimens": [{"intervention": "LS03", "start_day": "0"}]},
            "regimens[0].start_day",
            "number",
        ),
        (
            {"regimens": [{"intervention": "LS03", "adherence": True}]},
            "regimens[0].adherence",
            "number",
        ),
    ],
)
def test_simulate_numbers_are_strict(client, body, field, says):
    r = _post(client, body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == field and err["error"].startswith(field + ":")
    assert says in err["error"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"days": NaN}', "days"),
        ('{"days": Infinity}', "days"),
        ('{"days": -Infinity}', "days"),
        ('{"days": 1e999}', "days"),
        ('{"baseline": {"gut_dysbiosis": NaN}}', "baseline.gut_dysbiosis"),
        ('{"regimens": [{"intervention": "LS03", "dose": NaN}]}', "regimens[0].dose"),
        ('{"regimens": [{"intervention": "LS03", "stop_day": Infinity}]}', "regimens[0].stop_day"),
    ],
)
def test_non_finite_numbers_are_refused(client, raw, field):
    r = client.post("/api/simulate", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == field and "must be a finite number" in err["error"]


TRIAL = {
    "arms": [
        {"name": "placebo", "regimens": [{"intervention": "placebo"}]},
        {"name": "LS03", "regimens": [{"intervention": "LS03", "dose": 1e9}]},
    ],
    "n_per_arm": 12,
    "duration_weeks": 4,
}


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"n_per_arm": True}, "n_per_arm", "whole number"),
        ({"n_per_arm": "30"}, "n_per_arm", "whole number"),
        ({"duration_weeks": "12"}, "duration_weeks", "number"),
        ({"adherence": True}, "adherence", "number"),
        ({"female_fraction": "0.5"}, "female_fraction", "number"),
        ({"iga_min": 2.0}, "iga_min", "whole number"),
        ({"seed": True}, "seed", "whole number"),
        ({"age_min": False}, "age_min", "number"),
    ],
)
def test_trial_numbers_are_strict(client, change, field, says):
    r = _post(client, {**TRIAL, **change}, url="/api/trial")
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == field and says in err["error"]


@pytest.mark.parametrize("raw", ['"duration_weeks": NaN', '"adherence": Infinity'])
def test_trial_non_finite_refused(client, raw):
    body = json.dumps(TRIAL)[:-1] + ", " + raw + "}"
    r = client.post("/api/trial", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "must be a finite number" in r.json()["error"]


def test_one_arm_trial_message_says_why(client):
    r = _post(client, {**TRIAL, "arms": TRIAL["arms"][:1]}, url="/api/trial")
    assert r.status_code == 422
    err = r.json()
    assert err["field"] == "arms"
    assert "compares each arm" in err["error"] and "gutskin trial" in err["error"]
    r = _post(client, {**TRIAL, "arms": TRIAL["arms"] * 3}, url="/api/trial")
    assert r.status_code == 422 and r.json()["field"] == "arms"


def test_explore_allow_host_is_checked(capsys):
    from gutskin.cli import main

    assert main(["explore", "--allow-host", "evil/x", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gutskin: error: --allow-host") and "\n" not in err
