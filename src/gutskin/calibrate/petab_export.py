"""The calibration problem in PEtab v1 (``gutskin export-petab --out DIR``).

PEtab (Schmiester L et al., PLoS Comput Biol 2021;17:e1008646) describes a parameter
estimation problem as an SBML model plus tables.  PEtab can express the targets that
concern one *typical* patient (the nominal median parameters, no disease-activity noise,
full adherence): the per-arm mean-trajectory targets of Rinaldi 2022 and the mechanistic
cohort targets.  The between-patient variability, trial entry criteria, measurement noise,
dropout and population contrasts of the full objective are not expressible in PEtab and
are not exported (listed in ``README.md`` of the folder).

Written files: ``model.xml`` (SBML via :func:`gutskin.io.sbml.to_sbml`),
``conditions.tsv``, ``observables.tsv``, ``measurements.tsv``, ``parameters.tsv``,
``problem.yaml``, ``README.md``.  Each % change target becomes an observable
``100 * (x / x0 - 1)`` with the typical patient's baseline ``x0`` as a numeric observable
parameter, noise = the target's ``sd``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from gutskin.calibrate.objective import BURN_IN_DAYS, base_model
from gutskin.calibrate.targets import Target, TargetSet

__all__ = ["export_petab", "lint_petab"]

_OUT = {"inflammatory": "inflammatory_lesions", "noninflammatory": "noninflammatory_lesions"}


def _baseline(spec: Any, values: Mapping[str, float] | None) -> dict[str, float]:
    """Untreated, noise-free steady state of the typical patient (states and outputs)."""
    from gutskin.engine import SolverOptions
    from gutskin.population import pipeline

    s = spec.with_parameters(**values) if values else spec
    p = pipeline.patient_parameters(s, [0], 0, nominal=True)
    res, _ = pipeline.burn_in(
        s, p, [0], 0, BURN_IN_DAYS, solver=SolverOptions(dense=False), noise=False
    )
    out = dict(zip(s.state_names, res.y[0, -1], strict=True))
    out.update(dict(zip(s.assignment_names, res.observables[0, -1], strict=True)))
    return out


def _condition(spec: Any, regimens: list[dict[str, Any]], days: float) -> dict[str, float]:
    """Constant input levels and strain-slot parameters of a regimen list."""
    from gutskin.model.interventions import resolve

    regs = [{"start_day": 0.0, "stop_day": days, **r} for r in regimens]
    exposures, overrides = resolve(regs, t0=0.0)
    row: dict[str, float] = {u.name: float(u.default) for u in spec.inputs}
    for e in exposures:
        row[e.input] = row.get(e.input, 0.0) + float(e.level)
    for k, v in overrides.items():
        row[k] = float(v)
    return row


def export_petab(
    ts: TargetSet,
    out: str | Path,
    *,
    values: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Write the PEtab problem of ``ts`` into folder ``out`` (which must exist).

    Parameters
    ----------
    ts : TargetSet
        Targets; those expressible for a typical patient are exported.
    out : str or Path
        Destination folder.
    values : mapping, optional
        Parameter values of the model (default: the table); fitted parameters are
        estimated in the problem either way.

    Returns
    -------
    dict
        ``{"exported": [...ids], "skipped": {id: reason}}``.
    """
    from gutskin.io.sbml import to_sbml

    out = Path(out)
    spec = base_model()
    base = _baseline(spec, values)
    y0 = [base[n] for n in spec.state_names]
    (out / "model.xml").write_text(to_sbml(spec, params=values, y0=y0))
    conds: dict[str, dict[str, float]] = {}
    obs_rows, meas_rows = [], []
    exported, skipped = [], {}
    used_outputs: set[str] = set()
    for t in ts.targets:
        reason = _expressible(t, ts)
        if reason:
            skipped[t.id] = reason
            continue
        o = t.options
        if t.simulator == "trial":
            arm = next(a for a in ts.designs[o["design"]].arms if a.name == o["arm"])
            regs = [r.model_dump(exclude_none=True) for r in arm.regimens]
            regs = [{k: v for k, v in r.items() if k != "stop_day"} for r in regs]
            days = float(o["visit_week"]) * 7.0
            output = _OUT.get(o["endpoint"], o["endpoint"])
        else:
            regs = list(o["regimens"])
            days = float(o["weeks"]) * 7.0
            output = o["output"]
        cid = f"c_{t.id}"
        conds[cid] = _condition(spec, regs, days)
        used_outputs.add(output)
        oid = f"obs_{t.id}"
        obs_rows.append(
            {
                "observableId": oid,
                "observableName": f"% change of {output} ({t.id})",
                "observableFormula": f"100 * ({output} / observableParameter1_{oid} - 1)",
                "observableTransformation": "lin",
                "noiseFormula": f"{t.sd:g}",
                "noiseDistribution": "normal",
            }
        )
        meas_rows.append(
            {
                "observableId": oid,
                "preequilibrationConditionId": "",
                "simulationConditionId": cid,
                "measurement": float(t.observed),  # type: ignore[arg-type]
                "time": days,
                "observableParameters": f"{base[output]:.10g}",
                "noiseParameters": "",
                "datasetId": t.id,
            }
        )
        exported.append(t.id)
    cond_df = pd.DataFrame.from_dict(conds, orient="index")
    cond_df.index.name = "conditionId"
    cond_df = cond_df.loc[:, sorted(cond_df.columns)]
    cond_df.reset_index().to_csv(out / "conditions.tsv", sep="\t", index=False)
    pd.DataFrame(obs_rows).to_csv(out / "observables.tsv", sep="\t", index=False)
    # rows sorted by condition (stable): PEtab does not care, but pyPESTO's RoadRunner
    # backend pairs data in file order with condition mappings in sorted order (issue 22)
    meas = pd.DataFrame(meas_rows)
    if len(meas):
        meas = meas.sort_values("simulationConditionId", kind="stable")
    meas.to_csv(out / "measurements.tsv", sep="\t", index=False)
    from gutskin.calibrate.fit import parameter_bounds
    from gutskin.engine.structure import influential_parameters

    # only what the exported problem can move is estimated: parameters of the trial layer
    # (screening, grading, noise) and of inputs that stay at their default in every
    # condition do not reach the model's equations or observables here
    defaults = {u.name: float(u.default) for u in spec.inputs}
    active = sorted(
        {k for row in conds.values() for k, v in row.items() if k in defaults and v != defaults[k]}
    )
    outputs = sorted(used_outputs)
    movable = influential_parameters(spec, active, outputs)
    bounds, nominal, _ = parameter_bounds(ts.fit_parameters)
    prows = []
    fixed: list[str] = []
    for n in ts.fit_parameters:
        lo, hi = bounds[n]
        v = float((values or {}).get(n, nominal[n]))
        if n not in movable:
            fixed.append(n)
        prows.append(
            {
                "parameterId": n,
                "parameterName": n,
                "parameterScale": "log10",
                "lowerBound": lo,
                "upperBound": hi,
                "nominalValue": min(max(v, lo), hi),
                "estimate": int(n in movable),
            }
        )
    pd.DataFrame(prows).to_csv(out / "parameters.tsv", sep="\t", index=False)
    problem = {
        "format_version": 1,
        "parameter_file": "parameters.tsv",
        "problems": [
            {
                "sbml_files": ["model.xml"],
                "condition_files": ["conditions.tsv"],
                "measurement_files": ["measurements.tsv"],
                "observable_files": ["observables.tsv"],
            }
        ],
    }
    (out / "problem.yaml").write_text(yaml.safe_dump(problem, sort_keys=False))
    readme = [
        "# gutskin calibration problem (PEtab v1)",
        "",
        "Typical patient (median parameters, no flare noise, full adherence, continuous "
        "exposure), started at its untreated steady state. Exported targets:",
        "",
        *[f"- `{i}`" for i in exported],
        "",
        "Not expressible in PEtab (need virtual populations, entry criteria or "
        "measurement models) and therefore only in `gutskin calibrate`:",
        "",
        *[f"- `{k}`: {v}" for k, v in skipped.items()],
        "",
        "Fitted by `gutskin calibrate` but fixed here (`estimate = 0`), because they act "
        "outside this problem (trial layer: screening, IGA grading, disease-activity noise) "
        "or only through inputs that are at their default in every condition:",
        "",
        *[f"- `{n}`" for n in fixed],
        "",
    ]
    (out / "README.md").write_text("\n".join(readme))
    return {"exported": exported, "skipped": skipped, "fixed": fixed}


def _expressible(t: Target, ts: TargetSet) -> str:
    if t.simulator == "trial":
        if t.statistic != "pct_change_of_means" or t.options["design"] != "rinaldi2022":
            return "population statistic of a trial with entry criteria (not a typical patient)"
        if t.observed is None or math.isnan(t.observed):
            return "no numeric value"
        return ""
    if t.simulator == "cohort" and t.observed is not None:
        return ""
    return {
        "relation": "slope across a virtual cohort",
        "population": "acne-vs-control contrast of a virtual population",
        "strain_property": "a strain-library property, not a model output",
        "not_represented": t.reason or "no model counterpart",
    }.get(t.simulator, "not expressible")


def lint_petab(folder: str | Path) -> bool:
    """Run the PEtab linter on ``folder/problem.yaml``; ``True`` when it finds no error."""
    import petab.v1 as petab

    problem = petab.Problem.from_yaml(str(Path(folder) / "problem.yaml"))
    return not petab.lint_problem(problem)
