"""Write gutskin's multiple imputations of the fixture responders (input to R's pooling).

``make r-fixtures`` runs this before ``make_r_fixtures.R``: for the data sets with dropout
it records the ``m`` completed data sets that :func:`gutskin.trial.statistics.compare`
makes for the week-12 responder under ``missing="mi"`` (Bayesian logistic imputation,
baseline ``y`` as severity), as ``mi_responder_<set>.csv`` (columns ``imputation``,
``row``, ``treated``, ``resp``).  R then computes each imputation's risk difference and
Wald variance and pools them with ``mice::pool.scalar``; the test compares gutskin's
pooled result with R's.  The imputations themselves are random draws and cannot be
repeated in R; the logistic imputation model they are drawn from is held to R
separately (``glm.fit`` on ``mice:::augment``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from gutskin.trial import statistics

SETS = ("dropout", "heterogeneous")
SEED = 20261207
M = 20


def completed(data: pd.DataFrame) -> pd.DataFrame:
    """The completed week-12 responder of each imputation, in gutskin's row order."""
    seen: list[tuple[np.ndarray, np.ndarray]] = []
    real = statistics._impute_many

    def spy(values, arm_ind, columns, has_baseline, rng, m, **kw):  # type: ignore[no-untyped-def]
        out = real(values, arm_ind, columns, has_baseline, rng, m, **kw)
        seen.extend((out[i, :, -1].copy(), arm_ind.copy()) for i in range(m))
        return out

    statistics._impute_many = spy  # type: ignore[assignment]
    try:
        statistics.compare(
            data,
            endpoint="resp",
            visit_week=12,
            arm="T",
            reference="C",
            method="responder",
            missing="mi",
            severity="y",
            seed=SEED,
            n_imputations=M,
        )
    finally:
        statistics._impute_many = real  # type: ignore[assignment]
    frames = [
        pd.DataFrame(
            {"imputation": i + 1, "row": np.arange(len(r)) + 1, "treated": t.astype(int), "resp": r}
        )
        for i, (r, t) in enumerate(seen)
    ]
    return pd.concat(frames, ignore_index=True)


def main(out_dir: str) -> None:
    """Write ``mi_responder_<set>.csv`` for each data set with dropout."""
    out = Path(out_dir)
    for name in SETS:
        d = pd.read_csv(out / f"{name}.csv")
        d["observed"] = True
        d["arm"] = d["arm"].astype(str)
        completed(d).to_csv(out / f"mi_responder_{name}.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/reference/fixtures")
