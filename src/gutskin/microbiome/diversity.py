"""Alpha diversity per sample (scikit-bio), rarefaction and relative-abundance normalisation.

Metrics live in a registry (:data:`METRICS`) so the API, the command line and the docs use
the same names.  All are computed by :func:`skbio.diversity.alpha_diversity` on blocks of
samples, so memory stays bounded by ``block`` × features whatever the table size.

* ``observed_features`` — number of features with non-zero abundance, S.
* ``shannon`` — H' = −Σ p_i log_b p_i; the base b is stated in the column name
  (``shannon_nat`` for e, ``shannon_bit`` for 2, ``shannon_dit`` for 10) (Shannon 1948).
* ``simpson`` — Gini–Simpson index 1 − Σ p_i² (scikit-bio's ``simpson``; Simpson 1949).
* ``chao1`` — bias-corrected Chao1 richness S + F1(F1 − 1)/(2(F2 + 1)) from singletons
  F1 and doubletons F2 (Chao 1984); needs integer read counts (NaN otherwise).
* ``faith_pd`` — Faith's phylogenetic diversity, total branch length spanned by the
  observed features (Faith 1992); needs a tree holding every feature.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from gutskin.engine.random import run_rng
from gutskin.microbiome.formats.common import FeatureTable, TableError, stable_key

__all__ = [
    "METRICS",
    "SHANNON_UNITS",
    "AlphaMetric",
    "alpha_diversity_table",
    "rarefy",
    "relative_abundance",
]

#: Column suffix of the Shannon index for each log base.
SHANNON_UNITS: dict[str, tuple[float, str]] = {
    "e": (math.e, "nat"),
    "2": (2.0, "bit"),
    "10": (10.0, "dit"),
}


@dataclass(frozen=True)
class AlphaMetric:
    """One alpha-diversity metric.

    Attributes
    ----------
    name : str
        Registry name (also the scikit-bio metric name).
    description : str
        What it measures, with its formula.
    reference : str
        Where it comes from.
    needs_integer : bool
        Only defined on read counts (NaN for relative abundances).
    needs_tree : bool
        Needs a phylogenetic tree.
    """

    name: str
    description: str
    reference: str
    needs_integer: bool = False
    needs_tree: bool = False


#: Alpha-diversity metrics by name.
METRICS: dict[str, AlphaMetric] = {
    m.name: m
    for m in (
        AlphaMetric("observed_features", "number of features with non-zero abundance", "—"),
        AlphaMetric(
            "shannon",
            "Shannon index H' = -sum p_i log_b p_i (base in the column name)",
            "Shannon CE, Bell Syst Tech J 1948;27:379",
        ),
        AlphaMetric(
            "simpson",
            "Gini-Simpson index 1 - sum p_i^2",
            "Simpson EH, Nature 1949;163:688",
        ),
        AlphaMetric(
            "chao1",
            "bias-corrected Chao1 richness S + F1(F1-1)/(2(F2+1))",
            "Chao A, Scand J Stat 1984;11:265",
            needs_integer=True,
        ),
        AlphaMetric(
            "faith_pd",
            "Faith's phylogenetic diversity (branch length spanned by the observed features)",
            "Faith DP, Biol Conserv 1992;61:1",
            needs_tree=True,
        ),
    )
}


def relative_abundance(table: FeatureTable) -> FeatureTable:
    """Each sample divided by its total (proportions summing to 1).

    Parameters
    ----------
    table : FeatureTable
        Counts or abundances; every sample must have a positive total.

    Returns
    -------
    FeatureTable
        Same shape, ``relative=True``.
    """
    totals = table.sample_totals()
    if np.any(totals <= 0):
        j = int(np.flatnonzero(totals <= 0)[0])
        raise TableError(f"{table.path}: sample {table.sample_ids[j]!r} is empty (total 0)")
    scaled = table.counts @ sparse.diags(1.0 / totals)
    return replace(table, counts=sparse.csc_matrix(scaled), relative=True)


def rarefy(table: FeatureTable, depth: int, seed: int) -> FeatureTable:
    """Subsample every sample to ``depth`` reads without replacement (seeded).

    Each sample draws from its own generator (run stream ``"rarefaction"`` of
    :mod:`gutskin.engine.random`, sub-key derived from the sample ID), so a sample's
    rarefied counts do not depend on which other samples are in the table or on their
    order.  Uses
    :func:`skbio.stats.subsample_counts`.

    Parameters
    ----------
    table : FeatureTable
        Integer read counts.
    depth : int
        Reads per sample (>= 1).
    seed : int
        Run seed.

    Returns
    -------
    FeatureTable
        Rarefied counts.

    Raises
    ------
    TableError
        Non-integer counts (naming the first), or samples with fewer reads than ``depth``
        (naming them).
    """
    from skbio.stats import subsample_counts

    if depth < 1:
        raise TableError(f"--depth must be >= 1, got {depth}")
    bad = table.first_non_integer()
    if bad is not None or table.relative:
        if bad is None:
            raise TableError(f"{table.path}: relative frequencies cannot be rarefied")
        r, c, v = bad
        raise TableError(
            f"{table.path}: sample {table.sample_ids[c]!r}, {table.where_feature(r)}: "
            f"abundance {v:g} is not a whole number; rarefaction needs read counts"
        )
    totals = table.sample_totals()
    short = np.flatnonzero(totals < depth)
    if short.size:
        names = [f"{table.sample_ids[j]} ({int(totals[j])} reads)" for j in short[:5]]
        more = f" and {short.size - 5} more" if short.size > 5 else ""
        raise TableError(
            f"rarefaction depth {depth} exceeds the reads of {short.size} sample(s): "
            f"{', '.join(names)}{more}; choose a lower --depth or exclude them with --where"
        )
    csc = table.counts.tocsc()
    indptr, indices, data = csc.indptr, csc.indices, csc.data
    rows: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for j in range(table.n_samples):
        lo, hi = indptr[j], indptr[j + 1]
        rng = run_rng(seed, "rarefaction", sub=stable_key(str(table.sample_ids[j])))
        sub = subsample_counts(data[lo:hi].astype(np.int64), depth, seed=rng)
        nz = np.flatnonzero(sub)
        rows.append(indices[lo:hi][nz])
        vals.append(sub[nz].astype(np.float64))
        cols.append(np.full(nz.size, j))
    mat = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=table.counts.shape,
    )
    return replace(table, counts=mat, relative=False)


def alpha_diversity_table(
    table: FeatureTable,
    *,
    shannon_base: str = "e",
    tree: Any | None = None,
    integer: bool | None = None,
    block: int = 256,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Alpha diversity of every sample.

    Parameters
    ----------
    table : FeatureTable
        Counts (or relative abundances, for which Chao1 is NaN).
    shannon_base : {"e", "2", "10"}
        Log base of the Shannon index; the column is ``shannon_nat``, ``shannon_bit`` or
        ``shannon_dit``.
    tree : skbio.TreeNode, optional
        Phylogeny holding every feature ID as a tip; adds ``faith_pd``.
    integer : bool, optional
        Whether the abundances are read counts (default: detected).
    block : int
        Samples per dense block handed to scikit-bio (memory ~ 8 × block × features bytes).
    progress : callable, optional
        Called with the number of samples done.

    Returns
    -------
    pandas.DataFrame
        Index: sample ID; columns ``observed_features``, ``shannon_<unit>``, ``simpson``,
        ``chao1`` and, with a tree, ``faith_pd``.
    """
    from skbio.diversity import alpha_diversity

    if shannon_base not in SHANNON_UNITS:
        raise TableError(f"--shannon-base must be one of e, 2, 10; got {shannon_base!r}")
    base, unit = SHANNON_UNITS[shannon_base]
    is_int = table.is_integer() and not table.relative if integer is None else integer
    ids = [str(s) for s in table.sample_ids]
    feats = [str(f) for f in table.feature_ids]
    if tree is not None:
        tips = {t.name for t in tree.tips()}
        missing = [f for f in feats if f not in tips]
        if missing:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            raise TableError(f"the tree lacks {len(missing)} feature(s) of the table: {shown}")
    cols: dict[str, list[np.ndarray]] = {
        "observed_features": [],
        f"shannon_{unit}": [],
        "simpson": [],
        "chao1": [],
    }
    if tree is not None:
        cols["faith_pd"] = []
    csc = table.counts.tocsc()
    for start in range(0, table.n_samples, block):
        stop = min(start + block, table.n_samples)
        part = csc[:, start:stop]
        used = np.flatnonzero(np.diff(part.tocsr().indptr))  # features present in the block
        dense = part[used, :].T.toarray()
        sid = ids[start:stop]
        counts = dense.astype(np.int64) if is_int else dense
        cols["observed_features"].append(
            alpha_diversity("observed_features", counts, sid).to_numpy(dtype=float)
        )
        cols[f"shannon_{unit}"].append(
            alpha_diversity("shannon", counts, sid, base=base).to_numpy(dtype=float)
        )
        cols["simpson"].append(alpha_diversity("simpson", counts, sid).to_numpy(dtype=float))
        cols["chao1"].append(
            alpha_diversity("chao1", counts, sid).to_numpy(dtype=float)
            if is_int
            else np.full(stop - start, np.nan)
        )
        if tree is not None:
            try:
                pd_ = alpha_diversity(
                    "faith_pd", counts, sid, taxa=[feats[i] for i in used], tree=tree
                )
            except ValueError as exc:  # unrooted tree, missing branch lengths, duplicates
                raise TableError(f"the tree cannot be used for Faith's PD: {exc}") from None
            cols["faith_pd"].append(pd_.to_numpy(dtype=float))
        if progress is not None:
            progress(stop)
    out = pd.DataFrame({k: np.concatenate(v) for k, v in cols.items()}, index=pd.Index(ids))
    out.index.name = "sample_id"
    return out
