"""Time `gutskin profile` on a large sparse table: 10,000 features × 1,000 samples by default.

Builds a synthetic gut table (BIOM 2.1 HDF5, integer counts, ~2 % non-zero, Greengenes-style
lineages drawn from the model's guilds plus unmapped phyla), then times reading, the whole
profile (alpha diversity, guild mapping, dysbiosis index) with relative-abundance
normalisation and with rarefaction, and reports the peak resident memory of the process.

Run:  .venv/bin/python benchmarks/bench_profile.py [--features 10000] [--samples 1000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import sparse

LINEAGES = [
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Bacteroidaceae; "
    "g__Bacteroides; s__",
    "k__Bacteria; p__Bacteroidetes; c__Bacteroidia; o__Bacteroidales; f__Prevotellaceae; "
    "g__Prevotella; s__copri",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Lachnospiraceae; "
    "g__Roseburia; s__",
    "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; "
    "g__Faecalibacterium; s__prausnitzii",
    "k__Bacteria; p__Firmicutes; c__Bacilli; o__Lactobacillales; f__Streptococcaceae; "
    "g__Streptococcus; s__",
    "k__Bacteria; p__Firmicutes; c__Bacilli; o__Lactobacillales; f__Lactobacillaceae; "
    "g__Lactobacillus; s__",
    "k__Bacteria; p__Actinobacteria; c__Actinobacteria; o__Bifidobacteriales; "
    "f__Bifidobacteriaceae; g__Bifidobacterium; s__",
    "k__Bacteria; p__Proteobacteria; c__Gammaproteobacteria; o__Enterobacteriales; "
    "f__Enterobacteriaceae; g__Escherichia; s__coli",
    "k__Bacteria; p__Verrucomicrobia; c__Verrucomicrobiae; o__Verrucomicrobiales; "
    "f__Verrucomicrobiaceae; g__Akkermansia; s__muciniphila",
    "k__Archaea; p__Euryarchaeota; c__Methanobacteria; o__Methanobacteriales; "
    "f__Methanobacteriaceae; g__Methanobrevibacter; s__",
]
WEIGHTS = np.array([30, 10, 20, 15, 4, 1, 3, 6, 2, 1], dtype=float)


def build_table(path: Path, n_features: int, n_samples: int, density: float, seed: int) -> None:
    """Write a synthetic sparse gut table as BIOM 2.1 HDF5."""
    import biom
    from biom.util import biom_open

    rng = np.random.default_rng(seed)
    tax = rng.choice(len(LINEAGES), size=n_features, p=WEIGHTS / WEIGHTS.sum())
    mat = sparse.random(
        n_features,
        n_samples,
        density=density,
        format="csc",
        random_state=np.random.default_rng(seed + 1),
        data_rvs=lambda k: np.ceil(rng.lognormal(2.0, 1.5, k)),
    )
    mat = mat + sparse.csc_matrix(  # no empty sample, no all-zero feature
        (np.ones(n_features), (np.arange(n_features), np.arange(n_features) % n_samples)),
        shape=mat.shape,
    )
    md = [{"taxonomy": [x.strip() for x in LINEAGES[t].split(";")]} for t in tax]
    table = biom.Table(
        mat,
        [f"F{i}" for i in range(n_features)],
        [f"S{j}" for j in range(n_samples)],
        observation_metadata=md,
    )
    with biom_open(str(path), "w") as fh:
        table.to_hdf5(fh, "gutskin bench_profile")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=1_000)
    ap.add_argument("--density", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import skbio.diversity  # noqa: F401 - import cost (~2 s) kept out of the timings

    from gutskin.microbiome import profile_table, read_table
    from gutskin.microbiome.profile import _nominal_params

    params = _nominal_params()  # build the model once, outside the timings
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.biom"
        t0 = time.perf_counter()
        build_table(path, args.features, args.samples, args.density, args.seed)
        t_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        t = read_table(path)
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        prof = profile_table(path, kind="gut", params=params)
        t_rel = time.perf_counter() - t0
        t0 = time.perf_counter()
        profile_table(path, kind="gut", normalise="rarefy", depth=1000, seed=1, params=params)
        t_rar = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"table: {args.features} features × {args.samples} samples, "
        f"{t.counts.nnz} non-zeros ({t.counts.nnz / (args.features * args.samples):.1%})"
    )
    print(f"build + write BIOM HDF5:           {t_build:6.2f} s")
    print(f"read_table:                        {t_read:6.2f} s")
    print(f"profile (relative abundance):      {t_rel:6.2f} s")
    print(f"profile (rarefied to 1000 reads):  {t_rar:6.2f} s")
    print(f"peak resident memory: {peak_mb:.0f} MB ({rss0:.0f} MB after imports and model)")
    print(f"mean dysbiosis index: {prof.samples['dysbiosis_index'].mean():.3f}")


if __name__ == "__main__":
    main()
