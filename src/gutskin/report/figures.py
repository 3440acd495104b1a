"""Standard figures of simulated trajectories."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

__all__ = ["plot_bands"]


def plot_bands(
    ds: xr.Dataset, variables: Sequence[str], out_dir: str | Path, *, prefix: str = ""
) -> list[Path]:
    """One PNG per variable: median and 5–95 % band over patients against time.

    Patients whose solver status is not OK are excluded from the bands (their
    count is written in the title).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ok = ds["status"].values == 0 if "status" in ds else np.ones(ds.sizes["patient"], bool)
    t = ds["time"].values
    paths = []
    for name in variables:
        da = ds[name].values[ok]
        fig, ax = plt.subplots(figsize=(5.5, 3.4), dpi=110)
        if da.shape[0]:
            lo, med, hi = np.nanpercentile(da, [5, 50, 95], axis=0)
            ax.fill_between(t, lo, hi, alpha=0.3, label="5–95 %")
            ax.plot(t, med, lw=2, label="median")
        unit = ds[name].attrs.get("units", "")
        ax.set_xlabel(f"time ({ds['time'].attrs.get('units', 'day')})")
        ax.set_ylabel(f"{name} ({unit})" if unit and unit != "1" else name)
        excluded = int((~ok).sum())
        title = ds[name].attrs.get("description", name)
        ax.set_title(title + (f" [{excluded} failed excluded]" if excluded else ""), fontsize=9)
        ax.legend(fontsize=8, frameon=False)
        fig.tight_layout()
        path = out / f"{prefix}{name}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths
