"""Write a trial's output folder: results.json, endpoints.parquet, report.html, figures.

A room of its own beside ``calibrate``, ``sensitivity`` and ``scale``: it joins the trial
(results) and the report (HTML and figures), which know nothing of each other. The trial
returns its result; the faces (CLI and explorer) call :func:`write_trial_outputs`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from gutskin.io.outdir import atomic_output_dir
from gutskin.io.provenance import provenance_record, write_provenance
from gutskin.report.trial_report import render_html, write_figures
from gutskin.trial.analysis import results_dict
from gutskin.trial.result import TrialResult

__all__ = ["write_trial_outputs"]


def write_trial_outputs(
    result: TrialResult,
    out: str | Path,
    *,
    started: str,
    design_file: str | Path | None = None,
    extra: dict[str, Any] | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write every trial output into ``out`` at once; return the results dictionary.

    ``out`` must be new or empty, or an earlier gutskin output when ``overwrite``
    (rules in :mod:`gutskin.io.outdir`).
    """
    results = results_dict(result)
    with atomic_output_dir(out, overwrite=overwrite) as tmp:
        (tmp / "results.json").write_text(json.dumps(results, indent=2) + "\n")
        (tmp / "design.yaml").write_text(yaml.safe_dump(results["design"], sort_keys=False))
        result.endpoints.to_parquet(tmp / "endpoints.parquet", index=False)
        result.patients.to_csv(tmp / "patients.csv", index=False)
        figs = write_figures(result.endpoints, results["comparisons"], tmp / "figures")
        (tmp / "report.html").write_text(render_html(results, figs))
        write_provenance(
            tmp,
            provenance_record(
                seed=result.seed,
                started=started,
                inputs={"design": design_file} if design_file else None,
                extra={"design_name": result.design.name, **(extra or {})},
            ),
        )
    return results
