"""Living validation report: every target, observed vs simulated (``docs/validation.md``).

Run ``python -m gutskin.calibrate.validate`` (the ``make validate`` target).  For every
target of the targets file the report gives the observed value, the simulated mean and
95 % interval (2.5th-97.5th percentile) over replicate trials at the design's own sample
size, whether the mean is inside the target's tolerance, and figures
``docs/figures/validation_*.png``.  Targets the model cannot meet, or cannot express, are
listed with the reason; nothing is dropped.  Fitted parameters on a bound or not
identifiable (``fitted_parameters.csv``) are flagged.

Replicate ``r`` uses seed ``replicate_seed(seed, r)`` (as ``gutskin power``).

This module is the entry point and reads the fitted parameters; the replicate
simulations are in :mod:`gutskin.calibrate.replicates`, the verdict per target in
:mod:`gutskin.calibrate.checks`, and the Markdown, figures and input digests in
:mod:`gutskin.calibrate.report`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from gutskin.calibrate.checks import check_targets
from gutskin.calibrate.replicates import run_validation
from gutskin.calibrate.report import _rel, figures, input_digests, render_markdown
from gutskin.calibrate.targets import load_targets
from gutskin.engine.workers import SCHEDULERS

__all__ = ["FITTED_DEFAULT", "load_fitted", "main"]

#: Default fitted-parameter file (the reviewed candidate; absent -> table values).
FITTED_DEFAULT = Path(__file__).parent / "data" / "fitted_parameters.csv"


def load_fitted(path: Path | None) -> tuple[dict[str, float] | None, pd.DataFrame | None]:
    """Fitted medians and the table of ``fitted_parameters.csv`` (``None`` if absent).

    Every row must name a parameter of the acne model and give a finite value inside
    that parameter's documented range (``lower``/``upper`` of ``parameters.csv``);
    anything else is a ``ValueError`` naming the row.
    """
    import io
    import math

    from gutskin.engine.yamlio import read_text_bounded
    from gutskin.simulation import get_model

    if path is None or not Path(path).exists():
        return None, None
    tab = pd.read_csv(io.StringIO(read_text_bounded(path, 10_000_000, "fitted parameters")))
    if not {"name", "value"} <= set(tab.columns):
        raise ValueError("needs the columns 'name' and 'value'")
    params = {p.name: p for p in get_model("acne").parameters}
    out: dict[str, float] = {}
    for i, r in enumerate(tab.itertuples(index=False), start=2):
        name = str(r.name)
        if name not in params:
            raise ValueError(f"line {i}: {name!r} is not a parameter of the acne model")
        try:
            value = float(r.value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"line {i}: {name} value {r.value!r} is not a number") from None
        p = params[name]
        lo = p.lower if p.lower is not None else 0.0 if value >= 0 else -math.inf
        hi = p.upper if p.upper is not None else math.inf
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(
                f"line {i}: {name} = {value!r} must be a finite number in [{lo:g}, {hi:g}]"
            )
        out[name] = value
    return out, tab


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m gutskin.calibrate.validate``."""
    ap = argparse.ArgumentParser(prog="python -m gutskin.calibrate.validate")
    ap.add_argument("--targets", type=Path, default=None)
    ap.add_argument("--fitted", type=Path, default=FITTED_DEFAULT)
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--rinaldi-replicates", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="processes (default: per core)")
    ap.add_argument("--scheduler", choices=SCHEDULERS, default="inprocess")
    ap.add_argument("--address", default=None, help="Dask: address of an existing cluster")
    ap.add_argument("--docs", type=Path, default=Path("docs"))
    a = ap.parse_args(argv)
    if a.address and a.scheduler != "dask":
        ap.error("--address needs --scheduler dask")
    if a.replicates < 1 or a.rinaldi_replicates < 0:
        ap.error("--replicates must be >= 1")
    t0 = time.monotonic()
    ts = load_targets(a.targets)
    values, tab = load_fitted(a.fitted)
    reps = run_validation(
        ts,
        values,
        replicates=a.replicates,
        rinaldi_replicates=a.rinaldi_replicates,
        seed=a.seed,
        workers=a.workers,
        progress=lambda s: print(s, flush=True),
        scheduler=a.scheduler,
        address=a.address,
    )
    checks = check_targets(ts, reps)
    figs = figures(checks, a.docs / "figures")
    src = (
        f"fitted medians from `{_rel(a.fitted)}`"
        if values
        else "the parameter table (`parameters.csv`)"
    )
    md = render_markdown(
        ts,
        checks,
        tab,
        replicates=a.replicates,
        rinaldi_replicates=a.rinaldi_replicates,
        seed=a.seed,
        seconds=time.monotonic() - t0,
        figures=figs,
        parameter_source=src,
        digests=input_digests(a.targets, a.fitted if values else None),
    )
    (a.docs / "validation.md").write_text(md)
    print(
        f"wrote {a.docs / 'validation.md'} ({sum(c.status == 'met' for c in checks)}/"
        f"{len(checks)} targets met)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
