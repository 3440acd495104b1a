"""Profile a microbiome table: diversity, guild abundances and the gut dysbiosis index.

:func:`profile_table` reads a table (any format of :mod:`gutskin.microbiome.readers`),
selects samples by metadata, normalises, computes alpha diversity, guild fractions and the
gut dysbiosis index.  :func:`gutskin.microbiome.population.population_from_profile` turns
the resulting :class:`Profile` into personalised virtual patients (see
:mod:`gutskin.microbiome.population`).

The acne model's nominal parameter values and ranges used here (the dysbiosis fit, the
clipping of ``gut_dysbiosis``) come from :func:`_spec`, cached once per process.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from gutskin.microbiome.diversity import alpha_diversity_table, rarefy
from gutskin.microbiome.guilds import (
    GUT_GUILDS,
    SKIN_ORGANISMS,
    assign_features,
    dysbiosis_index,
    guild_fractions,
    guild_shannon,
    load_guild_map,
)
from gutskin.microbiome.readers import (
    FeatureTable,
    TableError,
    read_metadata,
    read_table,
    read_tree,
    select_samples,
)

__all__ = ["Profile", "profile_table"]

Kind = Literal["gut", "skin", "auto"]

#: Words in metadata values that say a sample is from the gut or from the skin.
_GUT_WORDS = (
    "feces", "faeces", "fecal", "faecal", "stool", "gut", "intestin", "colon", "rect",
    "gastrointestinal", "caecum", "cecum", "uberon:0001988",
)  # fmt: skip
_SKIN_WORDS = (
    "skin", "sebum", "sebaceous", "face", "facial", "forehead", "cheek", "chin", "nose",
    "follic", "epiderm", "comedo", "uberon:0002097",
)  # fmt: skip
#: Metadata columns looked at for the sample kind (lower-case name contains one of these).
_KIND_COLUMNS = ("body", "site", "habitat", "sample_type", "sampletype", "env_mat", "product")
#: Minimum share of a sample in site-typical taxa for the composition to decide its kind.
_KIND_MIN = 0.05


# ------------------------------------------------------------------------------ profile
@dataclass(frozen=True)
class Profile:
    """Per-sample profile of a microbiome table.

    Attributes
    ----------
    samples : DataFrame
        One row per selected sample (index ``sample_id``): kind, reads, diversity, guild
        fractions, unmapped/other/lumped fractions, dysbiosis index and the mapped
        ``gut_dysbiosis``, fit residual, notes and metadata covariates (``meta_*``).
    table : FeatureTable
        The selected (and, with rarefaction, rarefied) table the profile was computed on.
    settings : dict
        Options, guild-map version and what was dropped (for provenance).
    gut_composition : DataFrame or None
        Five-guild composition of each gut sample used by the dysbiosis fit (renormalised
        over the guilds, zeros replaced by half a read); NaN rows for skin samples.
    """

    samples: pd.DataFrame
    table: FeatureTable
    settings: dict[str, Any] = field(default_factory=dict)
    gut_composition: pd.DataFrame | None = None


def _kind_from_metadata(row: Any) -> str | None:
    gut = skin = 0
    for col, val in row.items():
        name = str(col).lower()
        if not any(k in name for k in _KIND_COLUMNS):
            continue
        v = str(val).lower()
        gut += any(w in v for w in _GUT_WORDS)
        skin += any(w in v for w in _SKIN_WORDS)
    if gut and not skin:
        return "gut"
    if skin and not gut:
        return "skin"
    return None


def _decide_kinds(
    kind: str, ids: list[str], meta: pd.DataFrame | None, gut: pd.DataFrame, skin: pd.DataFrame
) -> tuple[list[str], list[str]]:
    if kind in ("gut", "skin"):
        return [kind] * len(ids), ["option"] * len(ids)
    if kind != "auto":
        raise TableError(f"--kind must be gut, skin or auto, got {kind!r}")
    kinds, sources = [], []
    gut_score = (
        gut[["gut_butyrate", "gut_bifido", "gut_lacto", "gut_bacteroidetes"]].sum(axis=1)
        - gut["lumped_fraction"]
    )
    skin_score = skin[list(SKIN_ORGANISMS)].sum(axis=1)
    for s in ids:
        k = _kind_from_metadata(meta.iloc[meta.index.get_loc(s)]) if meta is not None else None
        if k is not None:
            kinds.append(k)
            sources.append("metadata")
            continue
        g, sk = float(gut_score[s]), float(skin_score[s])
        if max(g, sk) < _KIND_MIN:
            raise TableError(
                f"sample {s!r}: cannot tell whether it is a gut or a skin sample (gut-typical "
                f"taxa {g:.1%}, skin-typical {sk:.1%}); give --kind gut or --kind skin"
            )
        kinds.append("gut" if g >= sk else "skin")
        sources.append("composition")
    return kinds, sources


def _covariates(meta: pd.DataFrame | None, columns: Sequence[str] | None) -> pd.DataFrame:
    if meta is None:
        return pd.DataFrame(index=pd.Index([], name="sample_id"))
    if columns is None:
        cols = [c for c in meta.columns if meta[c].nunique(dropna=False) > 1]
    else:
        cols = list(columns)
        unknown = [c for c in cols if c not in meta.columns]
        if unknown:
            raise TableError(f"--covariates: no metadata column(s) {', '.join(unknown)}")
    out = meta[cols].copy()
    out.columns = [f"meta_{c}" for c in cols]
    return out


def profile_table(
    table: str | Path | FeatureTable,
    *,
    taxonomy: str | Path | None = None,
    metadata: str | Path | pd.DataFrame | None = None,
    where: Sequence[str] | str | None = None,
    kind: Kind = "auto",
    normalise: Literal["relative", "rarefy"] = "relative",
    depth: int | None = None,
    seed: int = 0,
    shannon_base: str = "e",
    tree: str | Path | None = None,
    drop_empty: bool = False,
    covariates: Sequence[str] | None = None,
    guild_map: str | Path | None = None,
    params: Mapping[str, float] | None = None,
) -> Profile:
    """Profile every selected sample of a microbiome table.

    Parameters
    ----------
    table : str, Path or FeatureTable
        The feature table (see :func:`gutskin.microbiome.readers.read_table`).
    taxonomy : str or Path, optional
        Separate taxonomy (required when the table carries none).
    metadata : str, Path or DataFrame, optional
        Sample metadata (mapping file); every table sample must have a row.
    where : str or sequence of str, optional
        Sample selection, ``COLUMN=VALUE[,VALUE]`` or ``COLUMN!=VALUE`` (all must hold).
    kind : {"auto", "gut", "skin"}
        Sample kind; ``auto`` reads body-site-like metadata columns, else the composition.
    normalise : {"relative", "rarefy"}
        ``relative``: diversity on the reads as given, fractions of each sample's total;
        ``rarefy``: every sample subsampled to ``depth`` reads first (seeded).
    depth : int, optional
        Rarefaction depth (default: the smallest sample's reads).
    seed : int
        Seed of the rarefaction.
    shannon_base : {"e", "2", "10"}
        Log base of the Shannon index.
    tree : str or Path, optional
        Phylogeny for Faith's PD.
    drop_empty : bool
        Drop empty samples and all-zero features instead of stopping with an error.
    covariates : sequence of str, optional
        Metadata columns carried into the profile (default: those that vary).
    guild_map : str or Path, optional
        A user guild map (default: the packaged one).
    params : mapping, optional
        Model parameter values (default: the acne model's nominal values).

    Returns
    -------
    Profile

    Raises
    ------
    TableError
        Any input problem, naming the file and the line, sample or feature.
    """
    tab = table if isinstance(table, FeatureTable) else read_table(table, taxonomy=taxonomy)
    if isinstance(table, FeatureTable) and taxonomy is not None:
        from gutskin.microbiome.readers import read_taxonomy

        tab = tab.with_taxonomy(read_taxonomy(taxonomy))
    if tab.taxonomy is None:
        raise TableError(
            f"{tab.path}: the table carries no taxonomy; give one with --taxonomy FILE"
        )
    settings: dict[str, Any] = {
        "table_format": tab.format,
        "n_features_in": tab.n_features,
        "n_samples_in": tab.n_samples,
    }
    zero = np.flatnonzero(np.diff(tab.counts.tocsr().indptr) == 0)
    if zero.size:
        if not drop_empty:
            raise TableError(
                f"{tab.path}: {tab.where_feature(int(zero[0]))} is zero in every sample"
                + (f" ({zero.size} such features)" if zero.size > 1 else "")
                + "; remove it or pass --drop-empty"
            )
        keep = np.setdiff1d(np.arange(tab.n_features), zero)
        tab = tab.take_features(keep)
    settings["dropped_zero_features"] = int(zero.size)
    meta = read_metadata(metadata) if isinstance(metadata, (str, Path)) else metadata
    conds = [where] if isinstance(where, str) else list(where or [])
    tab, meta = select_samples(tab, meta, conds)
    totals = tab.sample_totals()
    empty = np.flatnonzero(totals <= 0)
    if empty.size:
        names = [str(tab.sample_ids[j]) for j in empty]
        if not drop_empty:
            raise TableError(
                f"{tab.path}: sample(s) {', '.join(names[:5])}"
                f"{' and more' if len(names) > 5 else ''} have no reads; "
                "remove them, exclude them with --where, or pass --drop-empty"
            )
        keep = np.flatnonzero(totals > 0)
        if not keep.size:
            raise TableError(f"{tab.path}: every selected sample is empty")
        tab = tab.take_samples(keep)
        meta = None if meta is None else meta.iloc[keep]
        totals = totals[keep]
    settings["dropped_empty_samples"] = int(empty.size)
    is_int = tab.is_integer() and not tab.relative
    if normalise == "rarefy":
        if depth is None:
            depth = int(totals.min())
        work = rarefy(tab, int(depth), seed)
    elif normalise == "relative":
        if depth is not None:
            raise TableError("--depth applies to --normalise rarefy only")
        work = tab
    else:
        raise TableError(f"--normalise must be relative or rarefy, got {normalise!r}")
    settings.update(
        normalise=normalise,
        depth=depth,
        seed=seed,
        shannon_base=shannon_base,
        integer_counts=bool(is_int),
        n_samples=work.n_samples,
        n_features=work.n_features,
    )
    phylo = read_tree(tree) if tree is not None else None
    div = alpha_diversity_table(work, shannon_base=shannon_base, tree=phylo, integer=is_int)
    gmap = load_guild_map(guild_map)
    settings["guild_map"] = {"path": gmap.path, "version": gmap.version}
    lineages = [str(x) for x in (work.taxonomy if work.taxonomy is not None else [])]
    gut = guild_fractions(work, assign_features(lineages, gmap, "gut"))
    skin = guild_fractions(work, assign_features(lineages, gmap, "skin"))
    ids = [str(s) for s in work.sample_ids]
    kinds, sources = _decide_kinds(kind, ids, meta, gut, skin)
    out = pd.DataFrame(index=pd.Index(ids, name="sample_id"))
    out["kind"] = kinds
    out["kind_source"] = sources
    out["reads"] = totals if normalise == "relative" else work.sample_totals()
    if not is_int:
        out["reads"] = np.nan
    out = out.join(div)
    is_gut = np.array(kinds) == "gut"
    for g in GUT_GUILDS:
        out[g] = np.where(is_gut, gut[g].to_numpy(), np.nan)
    for o in SKIN_ORGANISMS:
        out[o] = np.where(~is_gut, skin[o].to_numpy(), np.nan)
    for c in ("other_fraction", "unmapped_fraction", "lumped_fraction"):
        out[c] = np.where(is_gut, gut[c].to_numpy(), skin[c].to_numpy())
    pv = dict(params) if params is not None else _nominal_params()
    out["guild_shannon_nat"] = np.nan
    out["dysbiosis_index"] = np.nan
    out["gut_dysbiosis"] = np.nan
    out["dysbiosis_fit_rmse"] = np.nan
    notes = [""] * len(ids)
    comp = np.full((len(ids), len(GUT_GUILDS)), np.nan)
    if is_gut.any():
        q = gut.loc[is_gut, list(GUT_GUILDS)].to_numpy()
        reads = out.loc[is_gut, "reads"].to_numpy() if is_int else None
        fit = dysbiosis_index(q, pv, reads=reads)
        lo, hi = _bounds("gut_dysbiosis")
        hs = guild_shannon(np.nan_to_num(fit.composition, nan=1.0))
        out.loc[is_gut, "guild_shannon_nat"] = np.where(np.isfinite(fit.index), hs, np.nan)
        comp[is_gut] = fit.composition
        out.loc[is_gut, "dysbiosis_index"] = fit.index
        out.loc[is_gut, "gut_dysbiosis"] = np.clip(fit.index, lo, hi)
        out.loc[is_gut, "dysbiosis_fit_rmse"] = fit.rmse
        for r, s in enumerate(np.flatnonzero(is_gut)):
            if not np.isfinite(fit.index[r]):
                notes[s] = "no reads in any gut guild"
            elif not lo <= fit.index[r] <= hi:
                notes[s] = f"index outside the parameter range [{lo:g}, {hi:g}]: clipped"
    mapped = 1.0 - out["unmapped_fraction"].to_numpy()
    for s in np.flatnonzero(mapped < 0.5):
        notes[s] = "; ".join(
            x for x in (notes[s], f"only {mapped[s]:.0%} of the sample maps to model taxa") if x
        )
    out["notes"] = notes
    cov = _covariates(meta, covariates)
    if len(cov.columns):
        out = out.join(cov)
    return Profile(
        samples=out,
        table=work,
        settings=settings,
        gut_composition=pd.DataFrame(comp, index=out.index, columns=list(GUT_GUILDS)),
    )


# ------------------------------------------------------------------------------ model
def _acne_spec() -> Any:
    from gutskin.model import acne_model

    return acne_model()


_SPEC_CACHE: dict[str, Any] = {}


def _spec() -> Any:
    if "acne" not in _SPEC_CACHE:
        _SPEC_CACHE["acne"] = _acne_spec()
    return _SPEC_CACHE["acne"]


def _nominal_params() -> dict[str, float]:
    return dict(_spec().parameter_values())


def _bounds(name: str, spec: Any | None = None) -> tuple[float, float]:
    p = (spec or _spec()).parameter(name)
    return (
        float(p.lower) if p.lower is not None else 0.0,
        float(p.upper) if p.upper is not None else math.inf,
    )
