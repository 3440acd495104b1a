"""Map a profiled microbiome table onto virtual patients of the acne model.

:func:`population_from_table` (or :func:`population_from_profile` for an existing
:class:`~gutskin.microbiome.profile.Profile`) turns each sample into per-sample parameter
overrides and baseline states (:class:`TablePopulation`); :func:`population_for_design`
does so for a trial design's ``population.from_table``.  Simulating every sample as a
virtual patient is :func:`gutskin.microbiome.simulate.simulate_samples`.

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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gutskin.microbiome.guilds import GUT_GUILDS, SKIN_ORGANISMS
from gutskin.microbiome.profile import Kind, Profile, _bounds, _spec, profile_table
from gutskin.microbiome.readers import TableError

__all__ = [
    "TablePopulation",
    "population_for_design",
    "population_from_profile",
    "population_from_table",
]

#: Below this C. acnes fraction the skin anchor is the total bacterial density.
_CACNES_ANCHOR_MIN = 1e-3


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
