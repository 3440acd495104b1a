"""Web explorer end to end in headless Chromium.

Starts ``gutskin explore`` in a subprocess on a free port, then drives the page:
run a population, change a dose and see the plot and numbers update, open a
parameter's source from the causal diagram, hit a server-side bound, run a quick
trial, download its design YAML (parsed with ``parse_design``) and results.json.
Screenshots go to ``<repo>/test-artifacts/explorer-*.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from gutskin.trial.design import parse_design

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
READY_TIMEOUT = 600  # a cold kernel cache compiles the model first
RUN_TIMEOUT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("explorer") / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gutskin.cli", "explore", "--port", str(port)],
            stdout=fh,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        end = time.monotonic() + READY_TIMEOUT
        while True:
            assert proc.poll() is None, f"server exited: {log.read_text()}"
            try:
                with urllib.request.urlopen(url + "/api/health", timeout=2) as r:
                    if json.load(r)["ready"]:
                        break
            except OSError:
                pass
            assert time.monotonic() < end, f"server not ready: {log.read_text()}"
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(log, ARTIFACTS / "explorer-server.log")


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    assert exe, "Debian chromium missing: run `make browser` (part of `make test`)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        context = browser.new_context(
            viewport={"width": 1400, "height": 1000}, accept_downloads=True
        )
        pg = context.new_page()
        pg.set_default_timeout(RUN_TIMEOUT_MS)  # generous on a loaded machine
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        external: list[str] = []
        pg.on(
            "request",
            lambda r: None if r.url.startswith(server) else external.append(r.url),
        )
        pg.goto(server + "/")
        pg.wait_for_selector("body[data-loaded='1']")
        pg.wait_for_selector("#status[data-ready='1']", timeout=READY_TIMEOUT * 1000)
        yield pg
        assert not errors, errors
        assert not external, f"page loaded from other hosts: {external}"
        browser.close()


def _run_and_wait(page, button, result_selector, old_job):
    page.click(button)
    page.wait_for_function(
        "([sel, old]) => { const e = document.querySelector(sel);"
        " return e && e.dataset.job && e.dataset.job !== old; }",
        arg=[result_selector, old_job],
        timeout=RUN_TIMEOUT_MS,
    )
    return page.get_attribute(result_selector, "data-job")


def _loaded(page, selector):
    page.wait_for_function(
        "sel => { const i = document.querySelector(sel);"
        " return i.complete && i.naturalWidth > 100; }",
        arg=selector,
    )


def _end(page, variable):
    return float(page.inner_text(f"#sim-summary tr[data-variable='{variable}'] td.end"))


def test_explorer_in_headless_chromium(page, server):
    page.screenshot(path=str(ARTIFACTS / "explorer-start.png"), full_page=True)
    # --- one population, then the same with a higher probiotic dose
    page.fill("#sim-patients", "40")
    page.fill("#sim-days", "56")
    page.fill("#sim-regimens .regimen .stop", "56")
    job1 = _run_and_wait(page, "#sim-run", "#sim-plot", "")
    _loaded(page, "#sim-plot")
    src1 = page.get_attribute("#sim-plot", "src")
    infl1 = _end(page, "inflammatory_lesions")
    assert page.get_attribute("#causal", "data-job") == job1
    node1 = page.get_attribute("#causal .node[data-state='C_acnes']", "data-value")

    page.fill("#sim-regimens .regimen .dose-value", "1e11")
    job2 = _run_and_wait(page, "#sim-run", "#sim-plot", job1)
    _loaded(page, "#sim-plot")
    assert page.get_attribute("#sim-plot", "src") != src1
    assert _end(page, "inflammatory_lesions") != infl1
    page.wait_for_selector(f"#causal[data-job='{job2}']")
    assert page.get_attribute("#causal .node[data-state='C_acnes']", "data-value") != node1
    page.screenshot(path=str(ARTIFACTS / "explorer-patients.png"), full_page=True)

    # --- causal diagram: a node's parameters, a parameter's source one click away
    page.click("#causal .node[data-state='C_acnes']")
    page.wait_for_selector("#popover:not([hidden]) [data-state='C_acnes']")
    page.click("#popover .param-link[data-param='mu_cac']")
    card = page.locator("#popover [data-param='mu_cac']")
    model = json.load(urllib.request.urlopen(server + "/api/model"))
    source = next(p["source"] for p in model["parameters"] if p["name"] == "mu_cac")
    assert source[:20] in card.inner_text()
    page.screenshot(path=str(ARTIFACTS / "explorer-parameter-source.png"))
    page.click("#popover-close")

    # --- a request over the bounds: the server's message, the field marked
    page.fill("#sim-patients", "100000")
    page.click("#sim-run")
    page.wait_for_selector("#sim-patients.invalid")
    assert "patients" in page.inner_text("#sim-error")
    page.fill("#sim-patients", "40")

    # --- a quick trial
    page.click("nav .tab[data-tab='trial']")
    page.fill("#trial-n", "15")
    page.fill("#trial-weeks", "8")
    _run_and_wait(page, "#trial-run", "#trial-results", "")
    for img in ("#trial-forest", "#trial-responders"):
        _loaded(page, img)
    assert page.locator("#trial-comparisons tbody tr").count() == 3
    page.screenshot(path=str(ARTIFACTS / "explorer-trial.png"), full_page=True)

    with page.expect_download() as dl:
        page.click("#dl-design")
    design = parse_design(yaml.safe_load(Path(dl.value.path()).read_text()))
    assert [a.name for a in design.arms] == ["placebo", "LS03"]
    assert design.sample_size == 30 and design.duration_weeks == 8
    with page.expect_download() as dl:
        page.click("#dl-results")
    results = json.loads(Path(dl.value.path()).read_text())
    assert results["design"]["name"] == design.name and len(results["comparisons"]) == 3

    # --- model tab: parameter table with sources
    page.click("nav .tab[data-tab='model']")
    page.fill("#param-filter", "gut_skin_gain")
    page.click("#param-table tr[data-param='gut_skin_gain']")
    page.wait_for_selector("#popover:not([hidden]) [data-param='gut_skin_gain']")
    page.screenshot(path=str(ARTIFACTS / "explorer-model.png"), full_page=True)
