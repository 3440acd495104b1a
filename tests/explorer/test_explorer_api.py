"""Web explorer API: server-side validation, jobs (progress, cancel, queue cap), outputs.

Driven through Starlette's TestClient; the jobs run the real model (small runs).
"""

from __future__ import annotations

import json
import socket
import time
import warnings

import pytest
import yaml

warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")

from starlette.testclient import TestClient  # noqa: E402

from gutskin.explorer.app import LIMITS, create_app  # noqa: E402
from gutskin.trial.design import parse_design  # noqa: E402

READY_TIMEOUT = 600  # a cold kernel cache compiles the model first


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(max_pending=2), base_url="http://127.0.0.1:8765") as c:
        end = time.monotonic() + READY_TIMEOUT
        while not c.get("/api/health").json()["ready"]:
            assert time.monotonic() < end, "model did not load"
            time.sleep(0.2)
        assert c.get("/api/health").json()["error"] is None
        yield c


def _wait(client, job_id, timeout=120.0):
    end = time.monotonic() + timeout
    while True:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        assert time.monotonic() < end, f"job still {job['state']}"
        time.sleep(0.05)


def _run(client, url, body):
    r = client.post(url, json=body)
    assert r.status_code == 202, r.text
    job = _wait(client, r.json()["job"]["id"])
    assert job["state"] == "done", job["error"]
    return job["result"]


TRIAL = {
    "arms": [
        {"name": "placebo", "regimens": [{"intervention": "placebo"}]},
        {"name": "LS03", "regimens": [{"intervention": "LS03", "dose": 1e9}]},
    ],
    "n_per_arm": 12,
    "duration_weeks": 4,
    "seed": 3,
}


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and "gutskin explorer" in page.text
    for name in ("app.js", "style.css"):
        assert client.get(f"/static/{name}").status_code == 200
    # nothing is loaded from another host
    for text in (page.text, client.get("/static/app.js").text):
        assert "cdn" not in text.lower() and '<script src="http' not in text


def test_model_info_has_sources_and_limits(client):
    info = client.get("/api/model").json()
    assert info["limits"] == LIMITS
    params = {p["name"]: p for p in info["parameters"]}
    assert params["gut_dysbiosis"]["per_patient"] and params["gut_dysbiosis"]["cv"] > 0
    assert all("source" in p and "confidence" in p and "note" in p for p in params.values())
    assert any("doi" in p["source"].lower() for p in params.values())
    states = {s["name"]: s for s in info["states"]}
    assert "mu_cac" in states["C_acnes"]["parameters"]
    ivs = {i["name"]: i for i in info["interventions"]}
    assert ivs["isotretinoin"]["dose_max"] == 2.0 and ivs["LS03"]["kind"] == "probiotic"
    assert {c["name"] for c in info["baseline_controls"]} <= set(params)
    svg = client.get("/api/causal.svg")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.count('class="node"') == len(info["states"])


_R0 = "regimens[0]."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"patients": LIMITS["patients"] + 1}, "patients"),
        ({"patients": 0}, "patients"),
        ({"days": LIMITS["days"] + 1}, "days"),
        ({"days": "long"}, "days"),
        ({"seed": -1}, "seed"),
        ({"mode": "cohort"}, "mode"),
        ({"sex": "X"}, "sex"),
        ({"nonsense": 1}, "nonsense"),
        ({"baseline": {"gut_dysbiosis": 50}}, "baseline.gut_dysbiosis"),
        ({"baseline": {"no_such_parameter": 1}}, "baseline.no_such_parameter"),
        ({"regimens": [{"intervention": "LS03", "dose": 1e13}]}, "regimens[0].dose"),
        ({"regimens": [{"intervention": "isotretinoin", "dose": 2.5}]}, "regimens[0].dose"),
        ({"regimens": [{"intervention": "LS03", "dose": -1}]}, "regimens[0].dose"),
        ({"regimens": [{"intervention": "unicorn"}]}, "regimens[0].intervention"),
        (
            {"days": 30, "regimens": [{"intervention": "LS03", "stop_day": 60}]},
            "regimens[0].stop_day",
        ),
        (
            {"days": 30, "regimens": [{"intervention": "LS03", "start_day": 40}]},
            "regimens[0].start_day",
        ),
        ({"regimens": [{"intervention": "LS03", "adherence": 1.5}]}, "regimens[0].adherence"),
        (
            {"regimens": [{"intervention": s} for s in ("LS03", "BR03", "LC03", "SP1")]},
            "regimens[3].intervention",
        ),
        ({"regimens": [{"intervention": "skincare"}] * (LIMITS["regimens"] + 1)}, "regimens"),
    ],
)
def test_simulate_validation_names_the_field(client, body, field):
    r = client.post("/api/simulate", json=body)
    assert r.status_code == 422, r.text
    err = r.json()
    assert err["field"] == field
    assert err["error"].startswith(field)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"n_per_arm": LIMITS["n_per_arm"] + 1}, "n_per_arm"),
        ({"n_per_arm": 1}, "n_per_arm"),
        ({"duration_weeks": LIMITS["duration_weeks"] + 1}, "duration_weeks"),
        ({"arms": TRIAL["arms"][:1]}, "arms"),
        ({"arms": TRIAL["arms"] + [{"name": f"x{i}"} for i in range(3)]}, "arms"),
        ({"arms": [TRIAL["arms"][0], TRIAL["arms"][0]]}, "arms[1].name"),
        ({"arms": [{"name": "<script>"}, TRIAL["arms"][1]]}, "arms[0].name"),
        (
            {
                "arms": [
                    TRIAL["arms"][0],
                    {"name": "iso", "regimens": [{"intervention": "isotretinoin", "dose": 9}]},
                ]
            },
            "arms[1].regimens[0].dose",
        ),
        ({"age_min": 30, "age_max": 20}, "age_max"),
        ({"iga_min": 4, "iga_max": 2}, "iga_max"),
        ({"female_fraction": 1.5}, "female_fraction"),
    ],
)
def test_trial_validation_names_the_field(client, change, field):
    r = client.post("/api/trial", json={**TRIAL, **change})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field


def test_malformed_requests(client):
    r = client.post(
        "/api/simulate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "JSON" in r.json()["error"]
    assert client.post("/api/simulate", json=[1, 2]).status_code == 422
    big = {"baseline": {f"p{i}": 1.0 for i in range(6000)}}
    assert client.post("/api/simulate", json=big).status_code == 413
    assert client.get("/api/jobs/does-not-exist").status_code == 404
    assert client.delete("/api/jobs/does-not-exist").status_code == 404


def test_simulation_result_plot_and_causal_values(client):
    res = _run(
        client,
        "/api/simulate",
        {
            "patients": 20,
            "days": 28,
            "seed": 2,
            "regimens": [{"intervention": "isotretinoin", "dose": 0.5, "pattern": "continuous"}],
        },
    )
    assert res["patients"] == 20 and res["n_failed"] == 0
    png = client.get(res["plot"])
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    summary = {s["variable"]: s for s in res["summary"]}
    assert {"inflammatory_lesions", "C_acnes_log10_cfu", "sebum", "gut_shannon"} <= set(summary)
    sebum = summary["sebum"]
    assert sebum["end"] < sebum["untreated_end"]  # isotretinoin lowers sebum
    assert sebum["end_p5"] <= sebum["end"] <= sebum["end_p95"]
    svg = client.get(res["causal"]).text
    v0, v1 = res["nodes"]["sebum_level"]
    assert f'data-state="sebum_level" data-value="{v1:.6g}"' in svg
    assert v1 < v0


def test_baseline_sex_and_typical_patient(client):
    def end(body, var):
        res = _run(client, "/api/simulate", {"patients": 15, "days": 7, "seed": 4, **body})
        return {s["variable"]: s["end"] for s in res["summary"]}[var], res

    low, _ = end({"baseline": {"gut_dysbiosis": 0.05}}, "gut_shannon")
    high, _ = end({"baseline": {"gut_dysbiosis": 2.0}}, "gut_shannon")
    assert high < low  # more dysbiosis, less gut diversity
    female, _ = end({"sex": "F"}, "sebum")
    male, _ = end({"sex": "M"}, "sebum")
    assert male > female  # androgen tone x 1.25 in males
    one, res = end({"mode": "typical", "baseline": {"flare_sd": 0.0}}, "sebum")
    assert res["patients"] == 1 and one > 0


def test_trial_files_are_the_cli_files(client):
    res = _run(client, "/api/trial", TRIAL)
    assert [a["name"] for a in res["arms"]] == ["placebo", "LS03"]
    assert {"forest", "responders_iga_success"} <= set(res["figures"])
    for url in res["figures"].values():
        assert client.get(url).content[:4] == b"\x89PNG"
    d = client.get(res["downloads"]["design.yaml"])
    assert 'filename="design.yaml"' in d.headers["content-disposition"]
    design = parse_design(yaml.safe_load(d.text))
    assert design.sample_size == 24 and [a.name for a in design.arms] == ["placebo", "LS03"]
    results = json.loads(client.get(res["downloads"]["results.json"]).text)
    assert {"gutskin_version", "seed", "design", "screening", "arms", "comparisons"} <= set(results)
    assert results["seed"] == 3 and parse_design(results["design"]) == design
    assert {c["endpoint"] for c in results["comparisons"]} == {
        "inflammatory",
        "noninflammatory",
        "total",
    }
    # the downloaded design reproduces the results in the command line's code path
    from gutskin.trial.analysis import results_dict
    from gutskin.trial.run import run_trial

    again = results_dict(run_trial(design, seed=3))
    assert json.loads(json.dumps(again)) == results
    job = res["downloads"]["design.yaml"].split("/")[3]
    for bad in ("../../../etc/passwd", "trial/../../x", "nope.txt"):
        assert client.get(f"/api/jobs/{job}/files/{bad}").status_code == 404


def test_cancel_queue_cap_and_progress(client):
    big = {"patients": LIMITS["patients"], "days": LIMITS["days"], "seed": 9}
    big["regimens"] = [{"intervention": "LS03"}]
    a = client.post("/api/simulate", json=big).json()["job"]["id"]
    b = client.post("/api/simulate", json=big).json()["job"]["id"]
    full = client.post("/api/simulate", json=big)
    assert full.status_code == 429 and "limit" in full.json()["error"]
    # b waits behind a: cancelling it is immediate
    assert client.delete(f"/api/jobs/{b}").json()["state"] == "cancelled"
    # a is running: it reports progress and stops at its next progress report
    fractions = []
    end = time.monotonic() + 60
    while client.get(f"/api/jobs/{a}").json()["state"] == "queued":
        assert time.monotonic() < end
        time.sleep(0.02)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.3:
        fractions.append(client.get(f"/api/jobs/{a}").json()["fraction"])
        time.sleep(0.02)
    client.delete(f"/api/jobs/{a}")
    job = _wait(client, a, timeout=30)
    assert job["state"] == "cancelled" and job["result"] is None
    assert fractions == sorted(fractions)
    # the queue is free again
    res = _run(client, "/api/simulate", {"patients": 3, "days": 3})
    assert res["patients"] == 3


def test_explore_command_errors(capsys):
    from gutskin.cli import main

    assert main(["explore", "--port", "70000"]) == 2
    assert "--port must be in 0..65535" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["explore", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gutskin: error: cannot listen on 127.0.0.1:") and "\n" not in err
    assert main(["explore", "--help"]) == 0
    assert "--port" in capsys.readouterr().out


def test_parameter_variants_are_objects_not_registered_models():
    """Issue 33: explorer runs with new medians never grow gutskin.simulation.MODELS."""
    from gutskin.explorer import app
    from gutskin.simulation import MODELS

    before = set(MODELS)
    a = app._model_for({"gut_dysbiosis": 0.7}, False)
    b = app._model_for({"gut_dysbiosis": 0.7}, False)
    assert a is b and a is not None and set(MODELS) == before
    assert a.parameter_values()["gut_dysbiosis"] == 0.7
    assert app._model_for({}, False) is None
    typical = app._model_for({}, True)
    assert typical is not None and all(p.cv == 0.0 for p in typical.parameters)
