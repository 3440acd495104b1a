"""From a microbiome table to profiles and personalised virtual patients.

:func:`profile_table` reads a table (any format of :mod:`gutskin.microbiome.readers`),
selects samples by metadata, normalises, computes alpha diversity, guild fractions and the
gut dysbiosis index.  :func:`population_from_table` turns the profile into per-sample
parameter overrides and baseline states of the acne model; :func:`simulate_samples`
simulates every sample as a virtual patient under a regimen and untreated.

Mapping of a sample onto the model (documented in ``docs/microbiome.md``):

* **gut sample** — parameter ``gut_dysbiosis`` = the dysbiosis index clipped to the
  parameter's range (persistent: it sets the guilds' steady state); at baseline the five
  guild states are set to the sample's guild composition times the patient's total gut
  load (transient: the part of the composition the drive cannot explain relaxes back in
  days at the guild growth rates).
* **skin sample** — relative abundances fix ratios, not densities, so the absolute scale
  is anchored on the patient's own *C. acnes* density (set by its follicle habitat, sebum
  and occlusion, which 16S data do not measure): at baseline ``S_epidermidis`` and
  ``S_aureus`` are set to ``C_acnes × f_organism / f_C.acnes``; the parameter
  ``skin_other`` (the constant pool of other taxa) to ``C_acnes × f_rest / f_C.acnes``;
  and the capacities ``se_K`` and ``sa_K`` so that those densities are the baseline steady
  state (clipped to their ranges).  Where *C. acnes* is (almost) absent the anchor is the
  patient's total skin bacterial density instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

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

__all__ = [
    "SIM_OUTPUTS",
    "Profile",
    "SampleSimulation",
    "TablePopulation",
    "population_for_design",
    "population_from_profile",
    "population_from_table",
    "profile_table",
    "simulate_samples",
]

Kind = Literal["gut", "skin", "auto"]

#: Simulation outputs (column name → model state or observable), named as the trial endpoints.
SIM_OUTPUTS: dict[str, str] = {
    "inflammatory": "inflammatory_lesions",
    "noninflammatory": "noninflammatory_lesions",
    "total": "total_lesions",
    "nodules": "nodules",
    "erythema": "erythema",
    "sebum": "sebum",
    "rel_c_acnes": "skin_rel_C_acnes",
    "rel_s_epidermidis": "skin_rel_S_epidermidis",
    "rel_s_aureus": "skin_rel_S_aureus",
    "gut_shannon": "gut_shannon",
    "gut_inflammation": "gut_inflammation",
    "plasma_il8": "plasma_IL8_rel",
}

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
#: Below this C. acnes fraction the skin anchor is the total bacterial density.
_CACNES_ANCHOR_MIN = 1e-3


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


# ------------------------------------------------------------------------------ population
@dataclass(frozen=True)
class TablePopulation:
    """Virtual patients seeded from the samples of a microbiome table.

    Patient ``i`` of a run takes sample ``i mod n`` (:meth:`sample_of`); its host
    parameters are sampled as usual and the sample sets the parameters and states tied to
    the microbiome (see the module docstring).

    Attributes
    ----------
    profile : Profile
        The table's profile (kinds, fractions, dysbiosis index).
    sample_ids : tuple of str
        Samples in patient order.
    kinds : tuple of str
        ``gut`` or ``skin`` per sample.
    parameters : DataFrame
        Parameter overrides known before baseline (sample × parameter; NaN = not set):
        ``gut_dysbiosis`` for gut samples.
    gut_composition : DataFrame
        Guild composition (five guilds, renormalised, zeros replaced) per gut sample.
    skin_composition : DataFrame
        Fractions of ``C_acnes``, ``S_epidermidis``, ``S_aureus`` and ``rest`` per skin
        sample.
    """

    profile: Profile
    sample_ids: tuple[str, ...]
    kinds: tuple[str, ...]
    parameters: pd.DataFrame
    gut_composition: pd.DataFrame
    skin_composition: pd.DataFrame

    @property
    def n_samples(self) -> int:
        return len(self.sample_ids)

    def sample_of(self, indices: Sequence[int] | NDArray[np.int64]) -> NDArray[np.int64]:
        """Sample position of each patient index (``index mod n_samples``)."""
        return np.asarray(indices, dtype=np.int64) % self.n_samples

    def apply_parameters(
        self, spec: Any, params: NDArray[np.float64], samples: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """Parameters with the per-sample overrides set (a copy).

        Parameters
        ----------
        spec : ModelSpec
            The acne model.
        params : ndarray, shape (N, P)
            Sampled or nominal parameters.
        samples : ndarray of int, shape (N,)
            Sample position of each patient.

        Returns
        -------
        ndarray, shape (N, P)
        """
        out = np.array(params, dtype=np.float64, copy=True)
        names = spec.parameter_names
        for col in self.parameters.columns:
            vals = self.parameters[col].to_numpy(dtype=np.float64)[samples]
            set_ = np.isfinite(vals)
            out[set_, names.index(col)] = vals[set_]
        return out

    def apply_baseline(
        self,
        spec: Any,
        params: NDArray[np.float64],
        y: NDArray[np.float64],
        samples: NDArray[np.int64],
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Set the sampled composition on each patient's baseline (after burn-in).

        Parameters
        ----------
        spec : ModelSpec
            The acne model.
        params : ndarray, shape (N, P)
            Patient parameters (already through :meth:`apply_parameters`).
        y : ndarray, shape (N, S)
            Baseline states (rows of failed burn-ins may be NaN and are left alone).
        samples : ndarray of int, shape (N,)
            Sample position of each patient.

        Returns
        -------
        (params, y)
            Copies with ``skin_other``, ``se_K``, ``sa_K`` (skin samples) and the gut guild
            or skin organism states set.
        """
        p = np.array(params, dtype=np.float64, copy=True)
        yy = np.array(y, dtype=np.float64, copy=True)
        sn, pn = spec.state_names, spec.parameter_names
        ok = np.all(np.isfinite(yy), axis=1)
        kinds = np.array(self.kinds)[samples]
        # gut: composition × the patient's own total load
        gi = [sn.index(g) for g in GUT_GUILDS]
        rows = np.flatnonzero(ok & (kinds == "gut"))
        if rows.size:
            comp = self.gut_composition.to_numpy(dtype=np.float64)[samples[rows]]
            total = yy[np.ix_(rows, gi)].sum(axis=1)
            yy[np.ix_(rows, gi)] = comp * total[:, None]
        rows = np.flatnonzero(ok & (kinds == "skin"))
        if rows.size:
            self._skin_baseline(spec, p, yy, rows, samples[rows], sn, pn)
        return p, yy

    def _skin_baseline(
        self,
        spec: Any,
        p: NDArray[np.float64],
        y: NDArray[np.float64],
        rows: NDArray[np.int64],
        smp: NDArray[np.int64],
        sn: list[str],
        pn: list[str],
    ) -> None:
        f = self.skin_composition.to_numpy(dtype=np.float64)[smp]
        f_c, f_se, f_sa, f_rest = f.T
        ic, ise, isa, ineu = (
            sn.index("C_acnes"),
            sn.index("S_epidermidis"),
            sn.index("S_aureus"),
            sn.index("neutrophils"),
        )
        col = {k: pn.index(k) for k in pn}

        def par(k: str) -> NDArray[np.float64]:
            return p[rows, col[k]]

        c = y[rows, ic]
        total = c + y[rows, ise] + y[rows, isa] + par("skin_other")
        anchor_c = f_c >= _CACNES_ANCHOR_MIN
        scale = np.where(anchor_c, c / np.maximum(f_c, 1e-300), total)
        c_new = np.where(anchor_c, c, f_c * total)
        se = scale * f_se
        sa = scale * f_sa
        other = np.maximum(scale * f_rest, 1e-6)
        n = y[rows, ineu]
        # se_K: steady state of dSe/dt = mu Se (1 - Se/K) - Se g + seed at the baseline
        g_se = par("k_se_cac") * c_new / (c_new + par("K_cac_competition"))
        with np.errstate(divide="ignore", invalid="ignore"):
            den = 1.0 - (g_se - par("se_seed") / se) / par("mu_se")
            # absent organism: smallest capacity; cannot persist at any capacity: largest
            se_k = np.where(se > 0, np.where(den > 0, se / den, np.inf), 0.0)
            # sa_K: capacity sa_K (1 + k N)/(1 + k) with the same balance
            den = 1.0 - (par("k_sa_se") * se - par("sa_seed") / sa) / par("mu_sa")
            cap = np.where(sa > 0, np.where(den > 0, sa / den, np.inf), 0.0)
            sa_k = cap * (1.0 + par("k_sa_infl")) / (1.0 + par("k_sa_infl") * n)
        for name, val in (("se_K", se_k), ("sa_K", sa_k)):
            lo, hi = _bounds(name, spec)
            p[rows, col[name]] = np.clip(np.where(np.isfinite(val), val, hi), lo, hi)
        p[rows, col["skin_other"]] = other
        y[rows, ic] = c_new
        y[rows, ise] = se
        y[rows, isa] = sa

    def personalise_parameters(
        self, spec: Any, params: NDArray[np.float64], indices: NDArray[np.int64]
    ) -> NDArray[np.float64]:
        """:meth:`apply_parameters` for patients ``indices`` (sample ``i mod n_samples``).

        With :meth:`personalise_baseline`, this makes a table population a
        :class:`~gutskin.population.pipeline.Personalisation` of the patient pipeline.
        """
        return self.apply_parameters(spec, params, self.sample_of(indices))

    def personalise_baseline(
        self,
        spec: Any,
        res: Any,
        params: NDArray[np.float64],
        indices: NDArray[np.int64],
    ) -> tuple[Any, NDArray[np.float64]]:
        """:meth:`apply_to_burn_in` for patients ``indices``."""
        return self.apply_to_burn_in(spec, res, params, self.sample_of(indices))

    def apply_to_burn_in(
        self, spec: Any, res: Any, params: NDArray[np.float64], samples: NDArray[np.int64]
    ) -> tuple[Any, NDArray[np.float64]]:
        """:meth:`apply_baseline` on the last time point of a burn-in :class:`BatchResult`.

        The observables of that time point are re-evaluated (inputs at their defaults:
        the endpoints read at screening depend on states and parameters only).

        Returns
        -------
        (BatchResult, params)
        """
        from gutskin.engine import integrate

        p2, y_end = self.apply_baseline(spec, params, res.y[:, -1, :], samples)
        y = res.y.copy()
        obs = res.observables.copy()
        ok = np.all(np.isfinite(y_end), axis=1)
        if ok.any():
            one = integrate(spec, y_end[ok], p2[ok], [float(res.t[-1])])
            y[ok, -1, :] = y_end[ok]
            obs[ok, -1, :] = one.observables[:, 0, :]
        return replace(res, y=y, observables=obs), p2


def population_from_table(
    table: str | Path,
    *,
    taxonomy: str | Path | None = None,
    metadata: str | Path | None = None,
    where: Sequence[str] | str | None = None,
    kind: Kind = "auto",
    base_dir: str | Path | None = None,
    spec: Any | None = None,
    **options: Any,
) -> TablePopulation:
    """Virtual patients seeded from a microbiome table, for trials and simulations.

    Parameters
    ----------
    table : str or Path
        The feature table (relative paths are taken from ``base_dir``).
    taxonomy, metadata : str or Path, optional
        Separate taxonomy and sample metadata.
    where : str or sequence of str, optional
        Sample selection on metadata columns.
    kind : {"auto", "gut", "skin"}
        Sample kind.
    base_dir : str or Path, optional
        Folder relative paths are resolved against (e.g. the design file's folder).
    spec : ModelSpec, optional
        The acne model (default: built).
    **options
        Passed to :func:`profile_table` (``normalise``, ``depth``, ``seed``, ``drop_empty``,
        ``guild_map``, ...).

    Returns
    -------
    TablePopulation
        ``parameters`` holds the per-sample overrides known from the table;
        :meth:`TablePopulation.apply_baseline` sets the initial states after burn-in.
    """

    def resolve(x: str | Path | None) -> str | Path | None:
        if x is None or base_dir is None or Path(x).is_absolute():
            return x
        return Path(base_dir) / x

    model = spec or _spec()
    prof = profile_table(
        resolve(table),  # type: ignore[arg-type]
        taxonomy=resolve(taxonomy),
        metadata=resolve(metadata),
        where=where,
        kind=kind,
        params=model.parameter_values(),
        **options,
    )
    return _population(prof)


def population_for_design(
    design: Any, seed: int, spec: Any | None = None
) -> TablePopulation | None:
    """The microbiome-seeded population of a trial design's ``population.from_table``.

    Parameters
    ----------
    design : Design
        A validated trial design.
    seed : int
        The trial seed (rarefaction draws).
    spec : ModelSpec, optional
        The model (default: the design's).

    Returns
    -------
    TablePopulation or None
        None when the design has no ``from_table``.

    Raises
    ------
    TableError
        The table cannot be read; the message names the ``population.from_table`` field.
    """
    ft = design.population.from_table
    if ft is None:
        return None
    from gutskin.simulation import get_model

    try:
        return population_from_table(
            ft.table,
            taxonomy=ft.taxonomy,
            metadata=ft.metadata,
            where=ft.where,
            kind=ft.kind,
            normalise=ft.normalise,
            depth=ft.depth,
            drop_empty=ft.drop_empty,
            seed=seed,
            spec=spec or get_model(design.model),
        )
    except TableError as exc:
        # the reader's messages name CLI flags; in a design they are fields of from_table
        msg = str(exc)
        for flag, fld in (
            ("--where", "where"),
            ("--depth", "depth"),
            ("--metadata", "metadata"),
            ("--drop-empty", "drop_empty: true"),
            ("--normalise", "normalise"),
            ("--taxonomy", "taxonomy"),
        ):
            msg = msg.replace(flag, fld)
        raise TableError(f"population.from_table: {msg}") from None


def _population(prof: Profile) -> TablePopulation:
    s = prof.samples
    ids = tuple(str(i) for i in s.index)
    kinds = tuple(str(k) for k in s["kind"])
    params = pd.DataFrame({"gut_dysbiosis": s["gut_dysbiosis"].to_numpy()}, index=s.index)
    if prof.gut_composition is not None:
        comp = prof.gut_composition.loc[s.index].to_numpy(dtype=np.float64)
    else:
        comp = np.full((len(ids), len(GUT_GUILDS)), np.nan)
    skin = s[list(SKIN_ORGANISMS)].to_numpy(dtype=np.float64)
    rest = np.clip(1.0 - skin.sum(axis=1), 0.0, 1.0)
    skin_comp = np.column_stack([skin, rest])
    return TablePopulation(
        profile=prof,
        sample_ids=ids,
        kinds=kinds,
        parameters=params,
        gut_composition=pd.DataFrame(comp, index=s.index, columns=list(GUT_GUILDS)),
        skin_composition=pd.DataFrame(skin_comp, index=s.index, columns=[*SKIN_ORGANISMS, "rest"]),
    )


def population_from_profile(prof: Profile) -> TablePopulation:
    """A :class:`TablePopulation` from an existing :class:`Profile`."""
    return _population(prof)


# ------------------------------------------------------------------------------ simulation
@dataclass(frozen=True)
class SampleSimulation:
    """Each sample simulated as a virtual patient under a regimen and untreated.

    Attributes
    ----------
    visits : DataFrame
        One row per sample × condition × visit: ``sample_id``, ``kind``, ``condition``
        (the arm name or ``untreated``), ``visit_week``, ``day``, ``n_ok`` and every
        :data:`SIM_OUTPUTS` column (mean over replicates; ``_p5``/``_p95`` with > 1
        replicate), plus ``inflammatory_change_pct`` from day 0.
    days : ndarray
        Daily output times.
    inflammatory : dict
        Condition → array (samples × days) of mean expected inflammatory lesions.
    patients : DataFrame
        Per simulated patient: sample, replicate, solver status, personalised parameters.
    """

    visits: pd.DataFrame
    days: NDArray[np.float64]
    inflammatory: dict[str, NDArray[np.float64]]
    patients: pd.DataFrame


def simulate_samples(
    pop: TablePopulation,
    *,
    regimens: Sequence[Mapping[str, Any]],
    arm: str,
    days: float,
    visit_weeks: Sequence[float],
    burn_in_days: float = 240.0,
    replicates: int = 0,
    adherence: float = 1.0,
    seed: int = 0,
    spec: Any | None = None,
    solver: Any | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SampleSimulation:
    """Simulate every sample of ``pop`` as a virtual patient, treated and untreated.

    Parameters
    ----------
    pop : TablePopulation
        From :func:`population_from_table`.
    regimens : sequence of mapping
        The arm's regimens (``intervention``, ``dose``, ``start_day``, ...), as in a design.
    arm : str
        Name of the treated condition in the output.
    days : float
        Treatment duration (days).
    visit_weeks : sequence of float
        Weeks reported in ``visits`` (0 = baseline).
    burn_in_days : float
        Untreated run to each patient's own baseline before the sample is applied.
    replicates : int
        0: one nominal patient per sample (median host parameters, no disease-activity
        noise, doses taken as prescribed) — the expected response.  R >= 1: R virtual
        patients per sample with sampled host parameters, flare noise and ``adherence``;
        mean and 5–95 % over them.
    adherence : float
        Fraction of daily doses taken (replicates only).
    seed : int
        Fixes every random number.
    spec : ModelSpec, optional
        The acne model.
    solver : SolverOptions, optional
        How the engine integrates (default ``SolverOptions()``, dense output on).
    progress : callable, optional
        ``progress(done, total)`` over the three integrations.

    Returns
    -------
    SampleSimulation
    """
    from gutskin.engine import SolverOptions
    from gutskin.model.interventions import arm_treatment
    from gutskin.population import pipeline
    from gutskin.scenario import RegimenSpec

    model = spec or _spec()
    solver = solver or SolverOptions()
    n = pop.n_samples
    r = max(int(replicates), 1)
    noisy = replicates > 0
    idx = np.arange(n * r, dtype=np.int64)
    samples = idx // r
    params = pipeline.patient_parameters(model, idx, seed, nominal=not noisy)
    params = pop.apply_parameters(model, params, samples)
    burn, params = pipeline.burn_in(
        model, params, idx, seed, burn_in_days, solver=solver, noise=noisy
    )
    if progress:
        progress(1, 3)
    y0 = pipeline.initial_states(model, params)
    params, y_base = pop.apply_baseline(model, params, burn.y[:, -1, :], samples)
    base_ok = np.all(np.isfinite(y_base), axis=1)
    y_start = np.where(base_ok[:, None], y_base, y0)
    # defaults (start day 0, daily, full adherence) as in a design
    tr = arm_treatment([RegimenSpec.model_validate(dict(rg)) for rg in regimens], days)
    t_eval = np.arange(0.0, days + 1e-9, 1.0)
    if t_eval[-1] < days:
        t_eval = np.append(t_eval, days)
    results = {}
    for done, (cond, treatment) in enumerate(
        ((arm, tr), ("untreated", pipeline.Treatment())), start=2
    ):
        results[cond] = pipeline.treat(
            model,
            y_start,
            params,
            idx,
            seed,
            t_eval,
            treatment=treatment,
            solver=solver,
            adherence=np.full(len(idx), adherence if noisy else 1.0),
            noise_from=0.0 if noisy else None,
        )
        if progress:
            progress(done, 3)
    return _summarise(pop, model, results, samples, base_ok, t_eval, visit_weeks, r, params)


def _summarise(
    pop: TablePopulation,
    model: Any,
    results: dict[str, Any],
    samples: NDArray[np.int64],
    base_ok: NDArray[np.bool_],
    t_eval: NDArray[np.float64],
    visit_weeks: Sequence[float],
    r: int,
    params: NDArray[np.float64],
) -> SampleSimulation:
    from gutskin.population.pipeline import output

    n = pop.n_samples
    vdays = np.array([w * 7.0 for w in visit_weeks])
    pos = np.searchsorted(t_eval, vdays - 1e-9)
    pos = np.clip(pos, 0, len(t_eval) - 1)
    rows: list[dict[str, Any]] = []
    daily: dict[str, NDArray[np.float64]] = {}
    for cond, res in results.items():
        good = base_ok & (res.status == 0)
        outs = {k: output(model, res, v) for k, v in SIM_OUTPUTS.items()}
        infl = np.full((n, len(t_eval)), np.nan)
        for s in range(n):
            sel = (samples == s) & good
            if sel.any():
                infl[s] = outs["inflammatory"][sel].mean(axis=0)
            for w, k in zip(visit_weeks, pos, strict=True):
                row: dict[str, Any] = {
                    "sample_id": pop.sample_ids[s],
                    "kind": pop.kinds[s],
                    "condition": cond,
                    "visit_week": float(w),
                    "day": float(t_eval[k]),
                    "n_ok": int(sel.sum()),
                }
                for name, arr in outs.items():
                    vals = arr[sel, k]
                    row[name] = float(vals.mean()) if vals.size else np.nan
                    if r > 1:
                        row[f"{name}_p5"] = float(np.percentile(vals, 5)) if vals.size else np.nan
                        row[f"{name}_p95"] = float(np.percentile(vals, 95)) if vals.size else np.nan
                base = outs["inflammatory"][sel, 0]
                now = outs["inflammatory"][sel, k]
                row["inflammatory_change_pct"] = (
                    float(100.0 * (now.mean() - base.mean()) / base.mean())
                    if base.size and base.mean() > 0
                    else np.nan
                )
                rows.append(row)
        daily[cond] = infl
    visits = pd.DataFrame(rows)
    pn = model.parameter_names
    personal = ["gut_dysbiosis", "skin_other", "se_K", "sa_K"]
    patients = pd.DataFrame(
        {
            "sample_id": [pop.sample_ids[s] for s in samples],
            "replicate": np.arange(len(samples)) % r,
            "baseline_ok": base_ok,
            **{f"status_{c}": np.asarray(res.status, dtype=np.int64) for c, res in results.items()},
            **{k: params[:, pn.index(k)] for k in personal},
        }
    )
    for k in ("se_K", "sa_K"):
        lo, hi = _bounds(k, model)
        v = patients[k].to_numpy()
        patients[f"{k}_at_bound"] = (np.isclose(v, lo) | np.isclose(v, hi)) & (
            np.array(pop.kinds)[samples] == "skin"
        )
    return SampleSimulation(visits=visits, days=t_eval, inflammatory=daily, patients=patients)
