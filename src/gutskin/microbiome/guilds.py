"""Taxonomy → model guilds, guild fractions, and the gut dysbiosis index.

The mapping is data: ``data/guild_map.csv`` (rank, pattern, site, target, role, source, notes),
versioned in its first line.  A feature's lineage is parsed into ranks (Greengenes
``k__``/``p__``…, SILVA/GTDB ``d__``…, SILVA-QIIME ``D_0__``…, or unprefixed positions) and
the most specific rank with a matching rule decides its target; within a rank the first
matching row wins.  Features that match no rule are *unmapped* and reported as such.

The **gut dysbiosis index** is the value of the model's dysbiosis drive ``gut_dysbiosis``
whose steady-state guild community is closest to the sample: the five guild fractions
(as centred log-ratios) and the guild-level Shannon index are compared with the model's
generalised Lotka–Volterra steady state, by weighted least squares over the drive.  The
drive's scale is that of the model parameter: 0 = the healthy reference community (Yan 2018
controls: Actinobacteria 2.84%, Proteobacteria 7.01%), 1 = the average acne-vs-control
contrast (Yan 2018: Actinobacteria 0.89%, Proteobacteria 8.35%; Deng 2018: fewer
Lachnospiraceae/Ruminococcaceae, more Bacteroidetes, lower Shannon).  See
``docs/microbiome.md`` for the derivation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import sparse

from gutskin.microbiome.formats.common import FeatureTable, TableError

__all__ = [
    "DYSBIOSIS_RANGE",
    "DYSBIOSIS_WEIGHTS",
    "GUT_GUILDS",
    "RANKS",
    "SKIN_ORGANISMS",
    "TARGETS",
    "DysbiosisFit",
    "GuildAssignment",
    "GuildMap",
    "assign_features",
    "dysbiosis_index",
    "guild_fractions",
    "guild_shannon",
    "gut_steady_state",
    "load_guild_map",
    "parse_lineage",
]

#: Taxonomic ranks, most general first.
RANKS = ("domain", "phylum", "class", "order", "family", "genus", "species")
#: Gut guilds of the model (state names), in model order.
GUT_GUILDS = ("gut_butyrate", "gut_bifido", "gut_lacto", "gut_bacteroidetes", "gut_proteo")
#: Skin organisms of the model (state names).
SKIN_ORGANISMS = ("C_acnes", "S_epidermidis", "S_aureus")
#: Every mapping target: model state → (site, description); ``other`` = named, not modelled.
TARGETS: dict[str, tuple[str, str]] = {
    "gut_butyrate": ("gut", "butyrate-producing Firmicutes (+ other Firmicutes, lumped)"),
    "gut_bifido": ("gut", "Bifidobacterium (+ other Actinobacteria, lumped)"),
    "gut_lacto": ("gut", "Lactobacillus and the 2020 split genera"),
    "gut_bacteroidetes": ("gut", "Bacteroidetes / Bacteroidota"),
    "gut_proteo": ("gut", "Proteobacteria / Pseudomonadota"),
    "C_acnes": ("skin", "Cutibacterium (Propionibacterium) acnes"),
    "S_epidermidis": ("skin", "Staphylococcus epidermidis (commensal staphylococci)"),
    "S_aureus": ("skin", "Staphylococcus aureus"),
    "other": ("any", "named on purpose as not a model organism"),
}
#: Weights of the dysbiosis fit: centred log-ratio of each guild, and guild Shannon (nat).
#: 1 where Yan 2018 measured the acne/control contrast, 0.5 where only the direction is
#: known (Deng 2018, Yan 2018 genera) or the reference is assumed.
DYSBIOSIS_WEIGHTS: dict[str, float] = {
    "gut_butyrate": 0.5,
    "gut_bifido": 1.0,
    "gut_lacto": 0.5,
    "gut_bacteroidetes": 0.5,
    "gut_proteo": 1.0,
    "shannon": 1.0,
}
#: Range searched for the dysbiosis index (the parameter itself is clipped to its bounds).
DYSBIOSIS_RANGE = (-1.0, 3.0)

_PREFIX = {"k": 0, "d": 0, "p": 1, "c": 2, "o": 3, "f": 4, "g": 5, "s": 6}
_EMPTY = {
    "",
    "unassigned",
    "unclassified",
    "uncultured",
    "unidentified",
    "unknown",
    "ambiguous_taxa",
    "metagenome",
    "uncultured bacterium",
    "uncultured organism",
    "human gut metagenome",
    "na",
    "none",
    "root",
}
_SPECIES_EMPTY = {"sp", "sp.", "spp", "spp.", "bacterium", "unclassified", "uncultured"}


# ------------------------------------------------------------------------------ lineages
def _clean(name: str) -> str | None:
    n = name.strip().strip("'\"").strip()
    n = re.sub(r"^\[(.*)\]$", r"\1", n)  # Greengenes [Ruminococcus]
    n = n.replace("[", "").replace("]", "")
    n = re.sub(r"\s*\((class|order|family|genus|phylum)\)$", "", n, flags=re.I)
    n = re.sub(r"_[A-Z]{1,3}$", "", n)  # GTDB Firmicutes_A, Bacteroides_B
    if n.lower() in _EMPTY or n.lower().startswith(("uncultured", "unclassified", "unknown")):
        return None
    return n


def parse_lineage(lineage: str) -> dict[str, str]:
    """Split a lineage string into ranks.

    Handles Greengenes (``k__Bacteria; p__Firmicutes; ...; s__``), SILVA/GTDB
    (``d__Bacteria;p__Bacteroidota;...``), SILVA-QIIME releases (``D_0__Bacteria;D_1__...``)
    and unprefixed lineages (``Bacteria;Firmicutes;...``, ranks by position, a leading
    ``Root`` dropped).  ``|`` is accepted as separator.  Empty, ``uncultured``,
    ``unidentified`` and similar names are dropped; bracketed Greengenes names and GTDB
    suffixes (``_A``) are cleaned; the species is returned as ``"Genus epithet"``.

    Parameters
    ----------
    lineage : str
        The lineage.

    Returns
    -------
    dict
        Rank name (:data:`RANKS`) → cleaned taxon name, only for ranks that are named.
    """
    parts = [p for p in re.split(r"[;|]", str(lineage)) if p.strip()]
    out: dict[str, str] = {}
    pos = 0
    for raw in parts:
        token = raw.strip()
        m = re.match(r"^([A-Za-z])__(.*)$", token) or re.match(r"^D_(\d)__(.*)$", token)
        if m:
            key = m.group(1)
            idx = int(key) if key.isdigit() else _PREFIX.get(key.lower(), -1)
            name = m.group(2)
        else:
            if pos == 0 and token.lower() == "root":
                continue
            idx, name = pos, token
        pos += 1
        if not 0 <= idx < len(RANKS):
            continue
        rank = RANKS[idx]
        if rank == "species":
            sp = re.sub(r"_[A-Z]{1,3}\b", "", name).replace("_", " ").strip()
            words = sp.split()
            if not words or words[-1].lower() in _SPECIES_EMPTY:
                continue
            if len(words) == 1 and "genus" in out:
                sp = f"{out['genus']} {words[0]}"
            cleaned = _clean(sp)
        else:
            cleaned = _clean(name)
        if cleaned:
            out[rank] = cleaned
    return out


# ------------------------------------------------------------------------------ the map
@dataclass(frozen=True)
class GuildMap:
    """The taxonomy → guild rules.

    Attributes
    ----------
    rules : DataFrame
        Columns ``rank, pattern, site, target, role, source, notes`` in file order.
    version : str
        From the file's first line (``version: X``).
    path : str
        Where it was read from.
    """

    rules: pd.DataFrame
    version: str
    path: str

    def compiled(self, site: str) -> dict[str, list[tuple[Any, str, str]]]:
        """Rules for one site (``gut`` or ``skin``) by rank: (pattern, target, role).

        Patterns are compiled for RE2 (:func:`_compile`), whose matching time is linear in
        the length of the name whatever the pattern.
        """
        out: dict[str, list[tuple[Any, str, str]]] = {r: [] for r in RANKS}
        for row in self.rules.itertuples(index=False):
            if str(row.site) != site:
                continue
            out[str(row.rank)].append((_compile(str(row.pattern)), str(row.target), str(row.role)))
        return out


@dataclass(frozen=True)
class _Rule:
    rank: str
    pattern: str
    site: str
    target: str
    role: str
    source: str
    notes: str


@lru_cache(maxsize=8)
def _load_guild_map(path: str | None) -> GuildMap:
    if path is None:
        src = resources.files("gutskin.microbiome") / "data" / "guild_map.csv"
        text, shown = src.read_text(encoding="utf-8"), "gutskin/microbiome/data/guild_map.csv"
    else:
        p = Path(path)
        from gutskin.engine.yamlio import InputFileError, read_text_bounded

        try:
            text, shown = read_text_bounded(p, 10_000_000, "guild map"), str(p)
        except InputFileError as exc:
            raise TableError(str(exc)) from None
    lines = text.splitlines()
    m = re.search(r"version:\s*([\w.\-]+)", lines[0] if lines else "")
    version = m.group(1) if m else "unversioned"
    body = [ln for ln in lines if not ln.startswith("#")]
    import io

    try:
        rules = pd.read_csv(io.StringIO("\n".join(body)), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise TableError(f"{shown}: cannot read the guild map ({exc})") from None
    need = ["rank", "pattern", "site", "target", "role", "source", "notes"]
    if list(rules.columns) != need:
        raise TableError(f"{shown}: columns must be {need}, got {list(rules.columns)}")
    for i, rec in enumerate(rules.to_dict("records")):
        row = _Rule(**{str(k): str(v) for k, v in rec.items()})
        where = f"{shown}: rule {i + 1}"
        if row.rank not in RANKS:
            raise TableError(f"{where}: rank {row.rank!r} is not one of {RANKS}")
        if row.site not in ("gut", "skin"):
            raise TableError(f"{where}: site {row.site!r} is not gut or skin")
        if row.target not in TARGETS:
            raise TableError(f"{where}: target {row.target!r} is not one of {list(TARGETS)}")
        if TARGETS[row.target][0] not in (row.site, "any"):
            raise TableError(f"{where}: target {row.target!r} is not a {row.site} target")
        if row.role not in ("core", "lumped", "excluded"):
            raise TableError(f"{where}: role {row.role!r} is not core, lumped or excluded")
        if len(row.pattern) > 1000:
            raise TableError(f"{where}: pattern is longer than 1000 characters")
        try:
            _compile(row.pattern)
        except ValueError as exc:
            raise TableError(f"{where}: pattern {row.pattern!r} {exc}") from None
    return GuildMap(rules=rules, version=version, path=shown)


def _compile(pattern: str) -> Any:
    """A case-insensitive RE2 pattern (``google-re2``), or ``ValueError`` saying why not.

    RE2 matches in time linear in the length of the name, whatever the pattern (Cox 2010,
    *Regular expression matching in the wild*), so a user's guild map cannot make
    profiling backtrack for minutes (catastrophic backtracking, "ReDoS"; OWASP). Its syntax
    is Python's without backreferences and lookaround, which taxon patterns never need.
    """
    import re2

    opts = re2.Options()
    opts.case_sensitive = False
    opts.log_errors = False
    try:
        return re2.compile(pattern, options=opts)
    except re2.error as exc:
        why = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f"is not a pattern the linear-time matcher accepts ({why}); backreferences and "
            "lookaround are not supported"
        ) from None


def load_guild_map(path: str | Path | None = None) -> GuildMap:
    """The packaged guild map, or a user's file with the same columns.

    Parameters
    ----------
    path : str or Path, optional
        A CSV with columns ``rank, pattern, site, target, role, source, notes`` (``#`` lines at
        the top are comments; ``version: X`` in the first line is recorded).

    Returns
    -------
    GuildMap
    """
    return _load_guild_map(None if path is None else str(path))


@dataclass(frozen=True)
class GuildAssignment:
    """Target of every feature for one site.

    Attributes
    ----------
    site : str
        ``gut`` or ``skin``.
    targets : tuple of str
        Target names in column order (the site's model states, then ``other``).
    index : ndarray of int, shape (F,)
        Column of each feature in ``targets``; -1 = unmapped.
    lumped : ndarray of bool, shape (F,)
        Feature reached its target through a ``lumped`` rule.
    """

    site: str
    targets: tuple[str, ...]
    index: NDArray[np.int64]
    lumped: NDArray[np.bool_]


def assign_features(lineages: Sequence[str], guild_map: GuildMap, site: str) -> GuildAssignment:
    """Map each feature's lineage to a model guild or skin organism.

    Parameters
    ----------
    lineages : sequence of str
        One lineage per feature (``""`` = unknown).
    guild_map : GuildMap
        The rules.
    site : {"gut", "skin"}
        Which targets apply.

    Returns
    -------
    GuildAssignment
    """
    if site not in ("gut", "skin"):
        raise ValueError(f"site must be 'gut' or 'skin', got {site!r}")
    targets = (*(GUT_GUILDS if site == "gut" else SKIN_ORGANISMS), "other")
    col = {t: i for i, t in enumerate(targets)}
    rules = guild_map.compiled(site)
    cache: dict[str, tuple[int, bool]] = {}
    index = np.full(len(lineages), -1, dtype=np.int64)
    lumped = np.zeros(len(lineages), dtype=bool)
    for f, lin in enumerate(lineages):
        hit = cache.get(lin)
        if hit is None:
            hit = (-1, False)
            ranks = parse_lineage(lin)
            for rank in reversed(RANKS):
                name = ranks.get(rank)
                if name is None:
                    continue
                match = next((r for r in rules[rank] if r[0].fullmatch(name)), None)
                if match is not None:
                    hit = (col[match[1]], match[2] == "lumped")
                    break
            cache[lin] = hit
        index[f], lumped[f] = hit
    return GuildAssignment(site=site, targets=targets, index=index, lumped=lumped)


def guild_fractions(table: FeatureTable, assignment: GuildAssignment) -> pd.DataFrame:
    """Fraction of each sample's abundance in each target, plus unmapped and lumped.

    Parameters
    ----------
    table : FeatureTable
        Abundances (any scale; fractions are of each sample's total).
    assignment : GuildAssignment
        From :func:`assign_features` on the same features.

    Returns
    -------
    pandas.DataFrame
        Index: sample ID.  One column per target (``other`` as ``other_fraction``),
        ``unmapped_fraction`` and ``lumped_fraction``; the target, other and unmapped
        columns sum to 1.
    """
    n_t = len(assignment.targets)
    rows = np.where(assignment.index >= 0, assignment.index, n_t)
    ind = sparse.csr_matrix(
        (np.ones(table.n_features), (rows, np.arange(table.n_features))),
        shape=(n_t + 2, table.n_features),
    )
    lump = sparse.csr_matrix(assignment.lumped.astype(np.float64)[None, :])
    totals = table.sample_totals()
    if np.any(totals <= 0):
        j = int(np.flatnonzero(totals <= 0)[0])
        raise TableError(f"{table.path}: sample {table.sample_ids[j]!r} is empty (total 0)")
    sums = np.asarray((ind @ table.counts).todense())[: n_t + 1] / totals
    lumped = np.asarray((lump @ table.counts).todense()).ravel() / totals
    names = [*assignment.targets[:-1], "other_fraction", "unmapped_fraction"]
    out = pd.DataFrame(sums.T, columns=names, index=pd.Index([str(s) for s in table.sample_ids]))
    out["lumped_fraction"] = lumped
    out.index.name = "sample_id"
    return out


# ------------------------------------------------------------------------------ gut model
_GUT_PARAMS = (
    "gut_ref_butyrate",
    "gut_ref_bifido",
    "gut_ref_lacto",
    "gut_ref_bacteroidetes",
    "gut_ref_proteo",
    "gut_r_butyrate",
    "gut_r_bifido",
    "gut_r_lacto",
    "gut_r_bacteroidetes",
    "gut_r_proteo",
    "gut_immigration",
    "gut_xfeed_bif_but",
    "gut_comp_but_bac",
    "gut_inh_but_pro",
    "dys_butyrate",
    "dys_bifido",
    "dys_lacto",
    "dys_bacteroidetes",
    "dys_proteo",
)


def _root(g: NDArray[np.float64], r: float, imm: float) -> NDArray[np.float64]:
    # steady state of du/dt = r u (g - u) + imm  (u = x / x_ref), the positive root
    return 0.5 * (g + np.sqrt(g * g + 4.0 * imm / r))


def gut_steady_state(
    drive: float | NDArray[np.float64], params: Mapping[str, float]
) -> NDArray[np.float64]:
    """Untreated steady state of the model's five gut guilds for a dysbiosis drive.

    Solves the gLV equations of the acne model (``acne_model.yaml``) at zero prebiotic and
    antibiotic exactly, immigration included: with ``u_i = x_i / x_ref,i`` each guild obeys
    ``r_i u_i (g_i - u_i) + iota = 0`` where ``g_i`` is its growth potential, solved in the
    order bifido, lacto, butyrate (cross-fed by bifido), Bacteroidetes and Proteobacteria
    (both restrained by butyrate producers).

    Parameters
    ----------
    drive : float or ndarray
        ``gut_dysbiosis`` value(s).
    params : mapping
        Parameter values by name (at least the gut parameters of the model).

    Returns
    -------
    ndarray, shape (..., 5)
        Guild abundances (fractions of the reference community load) in
        :data:`GUT_GUILDS` order.
    """
    p = {k: float(params[k]) for k in _GUT_PARAMS}
    d = np.asarray(drive, dtype=np.float64)
    imm = p["gut_immigration"]
    u_bif = _root(1.0 - p["dys_bifido"] * d, p["gut_r_bifido"], imm)
    u_lac = _root(1.0 - p["dys_lacto"] * d, p["gut_r_lacto"], imm)
    g_but = 1.0 + p["gut_xfeed_bif_but"] * (u_bif - 1.0) - p["dys_butyrate"] * d
    u_but = _root(g_but, p["gut_r_butyrate"], imm)
    g_bac = 1.0 + p["dys_bacteroidetes"] * d - p["gut_comp_but_bac"] * (u_but - 1.0)
    u_bac = _root(g_bac, p["gut_r_bacteroidetes"], imm)
    g_pro = 1.0 + p["dys_proteo"] * d - p["gut_inh_but_pro"] * (u_but - 1.0)
    u_pro = _root(g_pro, p["gut_r_proteo"], imm)
    u = np.stack([u_but, u_bif, u_lac, u_bac, u_pro], axis=-1)
    ref = np.array([p[f"gut_ref_{g.removeprefix('gut_')}"] for g in GUT_GUILDS])
    return u * ref


def _clr(x: NDArray[np.float64]) -> NDArray[np.float64]:
    lx = np.log(x)
    return lx - lx.mean(axis=-1, keepdims=True)


def _shannon(p: NDArray[np.float64]) -> NDArray[np.float64]:
    q = p / p.sum(axis=-1, keepdims=True)
    return -(q * np.log(np.maximum(q, 1e-300))).sum(axis=-1)


@dataclass(frozen=True)
class DysbiosisFit:
    """Result of :func:`dysbiosis_index`.

    Attributes
    ----------
    index : ndarray
        Fitted drive per sample (NaN where no gut guild was observed).
    rmse : ndarray
        Weighted root-mean-square residual of the fit (log-ratio units).
    composition : ndarray, shape (n, 5)
        Guild composition used (renormalised over the five guilds, zeros replaced).
    """

    index: NDArray[np.float64]
    rmse: NDArray[np.float64]
    composition: NDArray[np.float64]


def dysbiosis_index(
    fractions: NDArray[np.float64] | pd.DataFrame,
    params: Mapping[str, float],
    *,
    reads: NDArray[np.float64] | None = None,
    weights: Mapping[str, float] | None = None,
    grid_step: float = 0.001,
) -> DysbiosisFit:
    """Gut dysbiosis index of each sample on the scale of the model's drive.

    For each sample, the guild fractions ``q`` (renormalised over the five guilds, zeros
    replaced by half a read, or 1e-5 for relative data) are compared with the model's
    steady state ``p(d)`` (:func:`gut_steady_state`) and

    ``DI = argmin_d  sum_i w_i (clr q_i - clr p_i(d))^2 + w_H (H(q) - H(p(d)))^2``

    over ``d`` in :data:`DYSBIOSIS_RANGE` (grid search), where clr is the centred
    log-ratio over the five guilds and H the guild-level Shannon index (nat), the quantity
    the model reports as ``gut_shannon``.  DI = 0 is the healthy reference composition
    (Yan 2018 controls), DI = 1 the model's average acne gut (Yan 2018 Actinobacteria
    and Proteobacteria ratios, Deng 2018 directions), matching the definition of the
    parameter ``gut_dysbiosis``.

    Parameters
    ----------
    fractions : array or DataFrame, shape (n, 5)
        Fractions of :data:`GUT_GUILDS` (of the whole sample; unmapped excluded).
    params : mapping
        Model parameter values (medians).
    reads : array, shape (n,), optional
        Reads per sample (for the zero replacement); None = relative data.
    weights : mapping, optional
        Overrides of :data:`DYSBIOSIS_WEIGHTS`.
    grid_step : float
        Grid spacing of the search.

    Returns
    -------
    DysbiosisFit
    """
    q = np.asarray(fractions, dtype=np.float64)
    if q.ndim == 1:
        q = q[None, :]
    w = {**DYSBIOSIS_WEIGHTS, **(weights or {})}
    wv = np.array([w[g] for g in GUT_GUILDS])
    w_h = float(w["shannon"])
    total = q.sum(axis=1)
    ok = total > 0
    comp = np.full_like(q, np.nan)
    if ok.any():
        qq = q[ok] / total[ok, None]
        if reads is not None:
            floor = 0.5 / np.maximum(np.asarray(reads, dtype=np.float64)[ok] * total[ok], 1.0)
        else:
            floor = np.full(qq.shape[0], 1e-5)
        qq = np.maximum(qq, floor[:, None])
        comp[ok] = qq / qq.sum(axis=1, keepdims=True)
    grid = np.arange(DYSBIOSIS_RANGE[0], DYSBIOSIS_RANGE[1] + grid_step / 2, grid_step)
    model = gut_steady_state(grid, params)
    mc, mh = _clr(model), _shannon(model)
    index = np.full(q.shape[0], np.nan)
    rmse = np.full(q.shape[0], np.nan)
    rows = np.flatnonzero(ok)
    for start in range(0, rows.size, 256):
        r = rows[start : start + 256]
        oc, oh = _clr(comp[r]), _shannon(comp[r])
        # weighted squared distance to every grid point, by expansion (n × G)
        sq = (
            (oc**2 * wv).sum(axis=1)[:, None]
            - 2.0 * (oc * wv) @ mc.T
            + (mc**2 * wv).sum(axis=1)[None, :]
            + w_h * (oh[:, None] - mh[None, :]) ** 2
        )
        k = np.argmin(sq, axis=1)
        index[r] = grid[k]
        rmse[r] = np.sqrt(np.maximum(sq[np.arange(r.size), k], 0.0) / (wv.sum() + w_h))
    return DysbiosisFit(index=index, rmse=rmse, composition=comp)


def guild_shannon(composition: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shannon index (nat) over guild fractions, as the model's ``gut_shannon``."""
    return _shannon(np.asarray(composition, dtype=np.float64))
