"""Named factor sets of ``--factors``: every ranged parameter, or an arm's strain properties.

``default`` (:func:`default_factors`) is every model parameter with a range in the
parameter table except those fixed per analysis; ``strain`` (:func:`strain_factors`) is
every property of every probiotic strain given in the analysed arm, grouped by property.
:func:`resolve_factors` turns a ``--factors`` value (a set's name or a factors file) into
factors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gutskin.engine.spec import ModelSpec
from gutskin.model.interventions import get_intervention
from gutskin.model.strains import STRAIN_PROPERTIES, Strain, load_strains
from gutskin.sensitivity.factor_files import load_factors
from gutskin.sensitivity.factors import Factor, FactorError, _fixed_per_analysis, make_factor

__all__ = ["FACTOR_SETS", "arm_strains", "default_factors", "resolve_factors", "strain_factors"]

#: Named factor sets accepted by ``--factors`` besides a file path.
FACTOR_SETS: dict[str, str] = {
    "default": (
        "every model parameter with a range in the parameter table, except the population "
        "(care_seeking, the shared-cause correlation) and IGA-grading (iga_cut_*) "
        "parameters, which act once on the fixed cohort"
    ),
    "strain": "every property of every probiotic strain given in the analysed arm",
}


def default_factors(spec: ModelSpec) -> list[Factor]:
    """Every parameter of ``spec`` with a range (``lower < upper``) in the table.

    Population (drawing, screening) and observation (IGA grading) parameters are left
    out: they act once on the analysis' fixed cohort (see
    :func:`~gutskin.sensitivity.factors.make_factor`).

    Parameters
    ----------
    spec : ModelSpec
        The model.

    Returns
    -------
    list of Factor
        In parameter-table order, bounds from the table, log scale by
        :data:`~gutskin.sensitivity.factors.LOG_RATIO`.
    """
    library = load_strains()
    return [
        make_factor(p.name, spec, strains=library)
        for p in spec.parameters
        if p.lower is not None
        and p.upper is not None
        and p.lower < p.upper
        and not _fixed_per_analysis(spec, p.name)
    ]


def arm_strains(regimens: Sequence[Any], strains: Mapping[str, Strain] | None = None) -> list[str]:
    """Probiotic strains of an arm in slot order (order of first appearance).

    Parameters
    ----------
    regimens : sequence
        Regimens (objects or mappings with ``intervention``).
    strains : mapping, optional
        Strain library.

    Returns
    -------
    list of str
        Strain ids; strain ``k`` (0-based) occupies slot ``k + 1``.
    """
    library = dict(strains) if strains is not None else load_strains()
    out: list[str] = []
    for r in regimens:
        name = r["intervention"] if isinstance(r, Mapping) else r.intervention
        iv = get_intervention(name, library)
        if iv.kind == "probiotic" and iv.strain is not None and iv.strain not in out:
            out.append(iv.strain)
    return out


def strain_factors(
    spec: ModelSpec,
    regimens: Sequence[Any],
    *,
    strains: Mapping[str, Strain] | None = None,
    arm: str = "the arm",
) -> list[Factor]:
    """All properties of the probiotic strains given in an arm.

    Parameters
    ----------
    spec : ModelSpec
        The model (ranges of the ``pb1_<property>`` parameters).
    regimens : sequence
        The arm's regimens.
    strains : mapping, optional
        Strain library.
    arm : str
        Arm name for the error message.

    Returns
    -------
    list of Factor
        ``STRAIN.property`` for each strain (slot order) and property, grouped by
        property (``group`` = property name).

    Raises
    ------
    FactorError
        If the arm gives no probiotic strain.
    """
    strains = dict(strains) if strains is not None else load_strains()
    ids = arm_strains(regimens, strains)
    if not ids:
        raise FactorError(
            f"--factors strain: {arm} gives no probiotic strain; choose an arm with "
            "one (--design DESIGN:ARM) or another factor set"
        )
    return [
        make_factor(f"{sid}.{prop}", spec, strains=strains, group=prop)
        for sid in ids
        for prop in STRAIN_PROPERTIES
    ]


def resolve_factors(
    which: str,
    spec: ModelSpec,
    *,
    regimens: Sequence[Any] = (),
    arm: str = "the arm",
    strains: Mapping[str, Strain] | None = None,
    nominal_doses: Mapping[str, float] | None = None,
) -> list[Factor]:
    """Factors named by ``--factors``: ``default``, ``strain`` or a file path.

    Parameters
    ----------
    which : str
        ``"default"`` (:func:`default_factors`), ``"strain"`` (:func:`strain_factors`
        of ``regimens``) or the path of a YAML/CSV factors file.
    spec : ModelSpec
        The model.
    regimens : sequence
        Regimens of the analysed arm (for ``strain``).
    arm : str
        Arm name (messages).
    strains : mapping, optional
        Strain library.
    nominal_doses : mapping, optional
        Doses in the analysed arm.

    Returns
    -------
    list of Factor
    """
    if which == "default":
        return default_factors(spec)
    if which == "strain":
        return strain_factors(spec, regimens, strains=strains, arm=arm)
    path = Path(which)
    if not path.exists():
        raise FactorError(
            f"--factors {which!r}: neither a factors file nor one of {', '.join(FACTOR_SETS)}"
        )
    return load_factors(path, spec, strains=strains, nominal_doses=nominal_doses)
