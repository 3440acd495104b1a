"""Figures of the web explorer, drawn on the server (no JavaScript plotting library).

- :func:`trajectory_png` — median and 5–95 % band over the simulated patients of the
  explorer's panels (lesions by type, *C. acnes*, sebum, inflammation, gut diversity),
  optionally with the untreated comparison, as PNG bytes;
- :func:`band_summary` — the numbers behind those panels (start, end, untreated end);
- :func:`causal_svg` — the causal diagram of the model (state → state influences from
  :func:`gutskin.report.model_doc.causal_edges`) with each node's current value, as an
  SVG string whose nodes the page can click.

Figures use matplotlib's object API (no pyplot state), so they are safe off the main
thread.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["PANELS", "band_summary", "causal_svg", "node_values", "trajectory_png"]

#: Panels of the trajectory figure: title and (variable, label) series.
PANELS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Lesions (face count)",
        (("inflammatory_lesions", "inflammatory"), ("noninflammatory_lesions", "non-inflammatory")),
    ),
    (
        "Inflammatory lesions by type",
        (("papules", "papules"), ("pustules", "pustules"), ("nodular_lesions", "nodules")),
    ),
    ("C. acnes", (("C_acnes_log10_cfu", "C. acnes"),)),
    ("Sebum", (("sebum", "sebum"),)),
    ("Inflammation (1 = healthy)", (("skin_IL8", "skin IL-8"), ("plasma_IL8_rel", "plasma IL-8"))),
    ("Gut diversity", (("gut_shannon", "Shannon"),)),
)


def _ok(ds: xr.Dataset) -> np.ndarray:
    return np.asarray(ds["status"].values == 0) if "status" in ds else np.ones(ds.sizes["patient"])


def _bands(ds: xr.Dataset, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    vals = np.asarray(ds[name].values)[_ok(ds).astype(bool)]
    if vals.shape[0] == 0:
        return None
    lo, med, hi = np.nanpercentile(vals, [5, 50, 95], axis=0)
    return lo, med, hi


def trajectory_png(
    ds: xr.Dataset,
    untreated: xr.Dataset | None = None,
    windows: Sequence[tuple[float, float, str]] = (),
) -> bytes:
    """The explorer's trajectory figure as PNG bytes.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`gutskin.simulation.simulate` (patient × time).
    untreated : xarray.Dataset, optional
        The same patients without interventions; drawn as dashed medians.
    windows : sequence of (start, stop, label)
        Intervention windows (days), shaded.

    Returns
    -------
    bytes
        A PNG image; one panel per entry of :data:`PANELS`, median line and 5–95 %
        band over patients with solver status OK (no band for a single patient).
    """
    fig = Figure(figsize=(12.5, 6.6), dpi=80)
    axes = fig.subplots(2, 3)
    t = np.asarray(ds["time"].values)
    n_ok = int(_ok(ds).sum())
    for ax, (title, series) in zip(axes.ravel(), PANELS, strict=True):
        for start, stop, _label in windows:
            ax.axvspan(start, min(stop, float(t[-1])), color="#2a9d48", alpha=0.07, lw=0)
        unit = ""
        for k, (name, label) in enumerate(series):
            if name not in ds:
                continue
            unit = ds[name].attrs.get("units", "")
            b = _bands(ds, name)
            if b is None:
                continue
            lo, med, hi = b
            ax.plot(t, med, color=f"C{k}", lw=2, label=label)
            if n_ok > 1:
                ax.fill_between(t, lo, hi, color=f"C{k}", alpha=0.18, lw=0)
            if untreated is not None and name in untreated:
                u = _bands(untreated, name)
                if u is not None:
                    ax.plot(t, u[1], color=f"C{k}", lw=1.2, ls="--", alpha=0.8)
        ax.set_title(title + (f" ({unit})" if unit and unit not in ("1", "count") else ""))
        ax.set_xlabel("day")
        ax.grid(alpha=0.25)
        if len(series) > 1:
            ax.legend(fontsize=8, frameon=False)
    what = "median and 5–95 % band" if n_ok > 1 else "one patient"
    extra = "; dashed: same patients untreated" if untreated is not None else ""
    shade = "; shaded: intervention windows" if windows else ""
    fig.suptitle(f"{n_ok} virtual patient(s): {what}{extra}{shade}", fontsize=11)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


def band_summary(ds: xr.Dataset, untreated: xr.Dataset | None = None) -> list[dict[str, Any]]:
    """Start and end values of every panel series.

    Returns
    -------
    list of dict
        ``variable, label, unit, start, end, end_p5, end_p95, untreated_end`` (medians
        over patients with solver status OK; ``untreated_end`` None without comparison).
    """
    rows = []
    for _title, series in PANELS:
        for name, label in series:
            if name not in ds:
                continue
            b = _bands(ds, name)
            if b is None:
                continue
            lo, med, hi = b
            u = _bands(untreated, name) if untreated is not None and name in untreated else None
            rows.append(
                {
                    "variable": name,
                    "label": label,
                    "unit": ds[name].attrs.get("units", ""),
                    "start": float(med[0]),
                    "end": float(med[-1]),
                    "end_p5": float(lo[-1]),
                    "end_p95": float(hi[-1]),
                    "untreated_end": None if u is None else float(u[1][-1]),
                }
            )
    return rows


def node_values(ds: xr.Dataset, names: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Median (over OK patients) of each named variable at the first and last time."""
    out = {}
    for name in names:
        b = _bands(ds, name) if name in ds else None
        if b is not None:
            out[name] = (float(b[1][0]), float(b[1][-1]))
    return out


_SIGN_COLOURS = {1: "#2a9d48", -1: "#d1495b", 0: "#8a8a8a"}
_GROUP_FILLS = ("#e8f1fb", "#fdf1e4", "#eef7ea", "#f6ebf6", "#fbf8e1", "#eaf6f6")
_W, _H, _DX, _DY, _PAD = 178, 38, 250, 48, 24


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def causal_svg(
    states: Sequence[Any],
    edges: Sequence[tuple[str, str, int]],
    groups: Mapping[str, str],
    values: Mapping[str, tuple[float, float]] | None = None,
    nominal: Mapping[str, float] | None = None,
) -> str:
    """The causal diagram as an SVG document.

    Parameters
    ----------
    states : sequence
        The model's states (objects with ``name``, ``unit``, ``description``).
    edges : sequence of (source, target, sign)
        State → state influences (:func:`gutskin.report.model_doc.causal_edges`).
    groups : mapping
        State name → compartment; one column per compartment, in order of appearance.
    values : mapping, optional
        State → (value at day 0, value at the last day) of the last simulation.
    nominal : mapping, optional
        State → nominal initial value, shown when ``values`` has no entry.

    Returns
    -------
    str
        SVG markup.  Every node is a ``<g class="node" data-state=NAME>`` with
        ``data-value`` (the current value); edges are coloured by sign at the nominal
        state (green activating, red inhibiting, grey mixed).
    """
    names = [s.name for s in states]
    info = {s.name: s for s in states}
    columns: list[str] = []
    for n in names:
        g = groups.get(n, "other")
        if g not in columns:
            columns.append(g)
    members = {c: [n for n in names if groups.get(n, "other") == c] for c in columns}
    tallest = max(len(v) for v in members.values())
    width = _PAD * 2 + _DX * (len(columns) - 1) + _W + 60
    height = _PAD * 2 + 26 + _DY * tallest
    pos: dict[str, tuple[float, float, int]] = {}
    for ci, c in enumerate(columns):
        col = members[c]
        top = _PAD + 26 + (tallest - len(col)) * _DY / 2
        for ri, n in enumerate(col):
            pos[n] = (_PAD + ci * _DX, top + ri * _DY, ci)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="causal" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="causal diagram">',
        "<defs>",
    ]
    for sign, colour in _SIGN_COLOURS.items():
        out.append(
            f'<marker id="arrow{sign + 1}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs>")
    for ci, c in enumerate(columns):
        out.append(
            f'<text class="column" x="{_PAD + ci * _DX + _W / 2}" y="{_PAD + 8}" '
            f'text-anchor="middle">{html.escape(c)}</text>'
        )
    out.append('<g class="edges">')
    for src, dst, sign in edges:
        if src not in pos or dst not in pos:
            continue
        x0, y0, c0 = pos[src]
        x1, y1, c1 = pos[dst]
        ya, yb = y0 + _H / 2, y1 + _H / 2
        if c1 > c0:
            xa, xb = x0 + _W, x1
            mid = (xa + xb) / 2
            d = f"M{xa},{ya} C{mid},{ya} {mid},{yb} {xb},{yb}"
        elif c1 < c0:
            xa, xb = x0, x1 + _W
            bend = 40 + 8 * abs(c0 - c1)
            d = f"M{xa},{ya} C{xa - bend},{ya + 30} {xb + bend},{yb + 30} {xb},{yb}"
        else:
            bulge = 22 + 9 * abs(y1 - y0) / _DY
            xa = x0 + _W
            d = f"M{xa},{ya} C{xa + bulge},{ya} {xa + bulge},{yb} {xa + 2},{yb}"
        colour = _SIGN_COLOURS.get(sign, "#8a8a8a")
        out.append(
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.1" opacity="0.55" '
            f'marker-end="url(#arrow{sign + 1})" data-from="{src}" data-to="{dst}"/>'
        )
    out.append("</g>")
    for n in names:
        x, y, ci = pos[n]
        s = info[n]
        fill = _GROUP_FILLS[ci % len(_GROUP_FILLS)]
        if values and n in values:
            v0, v1 = values[n]
            change = ""
            if abs(v0) > 1e-12:
                pct = 100.0 * (v1 - v0) / abs(v0)
                change = f" ({pct:+.0f} %)"
            current = v1
            line = f"{_fmt(v0)} → {_fmt(v1)}{change}"
            cls = "up" if v1 > v0 * 1.02 else "down" if v1 < v0 * 0.98 else "flat"
        else:
            current = float((nominal or {}).get(n, float("nan")))
            line = f"nominal {_fmt(current)}"
            cls = "flat"
        unit = "" if s.unit in ("1", "") else f" ({s.unit})"
        title = html.escape(f"{n}{unit}: {s.description}")
        out.append(
            f'<g class="node" data-state="{html.escape(n)}" data-value="{current:.6g}" '
            f'tabindex="0"><title>{title}</title>'
            f'<rect x="{x}" y="{y}" width="{_W}" height="{_H}" rx="6" fill="{fill}" '
            f'stroke="#5b6b7b"/>'
            f'<text x="{x + 8}" y="{y + 15}" class="name">{html.escape(n)}</text>'
            f'<text x="{x + 8}" y="{y + 30}" class="value {cls}">{html.escape(line)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)
