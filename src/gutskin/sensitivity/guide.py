"""Generate ``docs/sensitivity-guide.md``: which strain properties drive the predicted effect.

Run from the repository root (a few minutes on two cores)::

    python -m gutskin.sensitivity.guide

It runs three analyses of the same outcome — the week-8 percent difference in expected
inflammatory lesions between the Rinaldi 2022 probiotic arm (BR03 + LC03 + LS03) and
placebo on a fixed 16-patient cohort — and writes the guide with its tables and the
figures ``docs/figures/sensitivity_*.png``:

1. Sobol' indices of the seven strain properties, each varied jointly for the three
   strains (grouped factors);
2. Sobol' indices of the 21 single strain properties, per output week;
3. Morris screening of every other model parameter with a range (the strains'
   properties at their library values).

``--quick`` uses tiny samples (for tests); ``--doc`` and ``--figures`` redirect the output.

This module runs the analyses and writes the figures; the guide's text (its tables,
numbers and prose, and the outcomes it asks about) is rendered by
:mod:`gutskin.sensitivity.guide_markdown`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from gutskin.sensitivity.cohort import build_cohort
from gutskin.sensitivity.driver import SensitivityResult, execute
from gutskin.sensitivity.evaluator import ModelEvaluator
from gutskin.sensitivity.factor_sets import default_factors
from gutskin.sensitivity.guide_markdown import OUTCOME, SCREEN_OUTCOME, _render
from gutskin.sensitivity.outputs import plot_indices, plot_time_resolved
from gutskin.sensitivity.plan import plan
from gutskin.simulation import get_model

__all__ = ["DESIGN", "OUTCOME", "main", "run_guide"]

#: The analysed design and arm (Rinaldi 2022 group IV: BR03 + LC03 + LS03, 1e9 CFU/day each).
DESIGN = "rinaldi2022:probiotics"
#: Probiotic slot parameters (the strains' properties; analysed in answers 1 and 2).
SLOT_PREFIXES = ("pb1_", "pb2_", "pb3_")


def _run(label: str, **kw: Any) -> SensitivityResult:
    t0 = time.monotonic()
    p = plan(design=DESIGN, seed=1, **kw)
    print(f"[guide] {label}: {p.n_evaluations} samples × {p.cohort} patients", file=sys.stderr)
    res = execute(p)
    res.info["wall_s"] = round(time.monotonic() - t0, 1)
    print(f"[guide] {label}: {res.info['wall_s']} s", file=sys.stderr)
    return res


def run_guide(
    doc: str | Path = "docs/sensitivity-guide.md",
    figures: str | Path = "docs/figures",
    *,
    quick: bool = False,
) -> dict[str, SensitivityResult]:
    """Run the guide's analyses and write the guide and its figures.

    Parameters
    ----------
    doc : path
        Markdown file to write.
    figures : path
        Folder for ``sensitivity_*.png`` (linked relative to ``doc``).
    quick : bool
        Tiny samples and cohort (smoke test; numbers are meaningless).

    Returns
    -------
    dict
        ``groups``, ``strains``, ``morris`` results.
    """
    cohort = 4 if quick else 16
    t0 = time.monotonic()
    groups = _run(
        "grouped Sobol'",
        method="sobol",
        factors="strain",
        outcome=f"{OUTCOME}@56",
        samples=16 if quick else 512,
        groups=True,
        cohort=cohort,
    )
    strains = _run(
        "per-strain Sobol'",
        method="sobol",
        factors="strain",
        outcome=OUTCOME,
        samples=16 if quick else 256,
        cohort=cohort,
        every=7.0,
    )
    spec = get_model("acne")
    host = [f for f in default_factors(spec) if not f.name.startswith(SLOT_PREFIXES)]
    morris = _run(
        "Morris, model parameters",
        method="morris",
        factors=host,
        outcome=f"{SCREEN_OUTCOME}@56",
        samples=4 if quick else 16,
        cohort=4 if quick else 12,
    )
    morris.info["worst"] = _explain_extreme(morris, host, cohort=4 if quick else 12)
    total = time.monotonic() - t0
    doc = Path(doc)
    fig_dir = Path(figures)
    fig_dir.mkdir(parents=True, exist_ok=True)
    plot_indices(groups, fig_dir / "sensitivity_groups.png")
    plot_indices(strains, fig_dir / "sensitivity_strains.png")
    plot_time_resolved(
        strains, fig_dir / "sensitivity_time.png", fig_dir / "sensitivity_time_lines.png"
    )
    plot_indices(morris, fig_dir / "sensitivity_morris.png", top=20)
    rel = Path("figures") if fig_dir.resolve().parent == doc.resolve().parent else fig_dir
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(_render(groups, strains, morris, rel, total, quick), encoding="utf-8")
    print(f"[guide] wrote {doc} and {fig_dir}/sensitivity_*.png in {total:.0f} s", file=sys.stderr)
    return {"groups": groups, "strains": strains, "morris": morris}


def _explain_extreme(
    res: SensitivityResult, factors: list[Any], *, cohort: int, show: int = 4
) -> dict[str, Any]:
    """Which factors, reset one at a time to nominal, undo the largest outcome value."""
    y = res.y[:, 0]
    if not np.isfinite(y).any():
        return {}
    i = int(np.nanargmax(y))
    p = plan(
        design=DESIGN,
        seed=1,
        method="morris",
        factors=factors,
        outcome=f"{SCREEN_OUTCOME}@56",
        cohort=cohort,
        samples=4,
    )
    ev = ModelEvaluator(
        build_cohort(p.design, p.cohort, p.seed),
        arm=p.arm,
        outcome=p.outcome,
        factors=p.factors,
        reference=p.reference,
    )
    x = res.x_physical[i]
    trial = np.tile(x, (len(factors) + 1, 1))
    for j, f in enumerate(factors):
        trial[j + 1, j] = f.nominal
    out = ev(trial)[:, 0]
    order = np.argsort(out[1:])[:show]
    return {
        "value": float(out[0]),
        "resets": [
            {
                "factor": factors[j].name,
                "value": float(x[j]),
                "nominal": float(factors[j].nominal),
                "outcome": float(out[j + 1]),
            }
            for j in order
        ],
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m gutskin.sensitivity.guide``)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--doc", default="docs/sensitivity-guide.md", help="guide to write")
    ap.add_argument("--figures", default="docs/figures", help="folder for the figures")
    ap.add_argument("--quick", action="store_true", help="tiny samples (smoke test)")
    args = ap.parse_args(argv)
    run_guide(args.doc, args.figures, quick=args.quick)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
