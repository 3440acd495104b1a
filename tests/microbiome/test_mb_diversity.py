"""Alpha diversity against hand-computed values; seeded, order-independent rarefaction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mb_tables import COUNTS, SAMPLES, write_classic, write_hdf5

from gutskin.microbiome.diversity import (
    METRICS,
    alpha_diversity_table,
    rarefy,
    relative_abundance,
)
from gutskin.microbiome.readers import TableError, read_table


@pytest.fixture
def table(tmp_path):
    return read_table(write_classic(tmp_path / "t.txt"))


def _hand(counts: np.ndarray) -> dict[str, float]:
    c = counts[counts > 0]
    p = c / c.sum()
    f1, f2 = int((c == 1).sum()), int((c == 2).sum())
    return {
        "observed_features": float(c.size),
        "shannon_nat": float(-(p * np.log(p)).sum()),
        "shannon_bit": float(-(p * np.log2(p)).sum()),
        "simpson": float(1 - (p**2).sum()),
        "chao1": c.size + f1 * (f1 - 1) / (2 * (f2 + 1)),
    }


def test_metrics_match_their_formulas(table):
    div = alpha_diversity_table(table)
    div2 = alpha_diversity_table(table, shannon_base="2")
    for j, s in enumerate(SAMPLES):
        want = _hand(COUNTS[:, j])
        for k in ("observed_features", "shannon_nat", "simpson", "chao1"):
            assert div.loc[s, k] == pytest.approx(want[k]), (s, k)
        assert div2.loc[s, "shannon_bit"] == pytest.approx(want["shannon_bit"])
    assert set(METRICS) == {"observed_features", "shannon", "simpson", "chao1", "faith_pd"}


def test_relative_abundances_keep_shannon_and_drop_chao1(table):
    rel = relative_abundance(table)
    np.testing.assert_allclose(rel.sample_totals(), 1.0)
    a, b = alpha_diversity_table(table), alpha_diversity_table(rel)
    np.testing.assert_allclose(a["shannon_nat"], b["shannon_nat"])
    np.testing.assert_allclose(a["simpson"], b["simpson"])
    assert b["chao1"].isna().all()


def test_faith_pd_with_a_tree(table):
    from skbio import TreeNode

    feats = list(table.feature_ids)

    def rooted(names: list[str]) -> TreeNode:
        half = len(names) // 2
        star = [",".join(f"{f}:1.0" for f in part) for part in (names[:half], names[half:])]
        return TreeNode.read([f"(({star[0]}):0.0,({star[1]}):0.0)root;"])

    div = alpha_diversity_table(table, tree=rooted(feats))
    # unit tip branches, zero internal ones: Faith PD = number of observed features
    np.testing.assert_allclose(div["faith_pd"], div["observed_features"])
    with pytest.raises(TableError, match=f"the tree lacks 1 feature.*{feats[0]}"):
        alpha_diversity_table(table, tree=rooted(feats[1:]))
    unrooted = TreeNode.read(["(" + ",".join(f"{f}:1.0" for f in feats) + ")root;"])
    with pytest.raises(TableError, match="cannot be used for Faith's PD"):
        alpha_diversity_table(table, tree=unrooted)


def test_rarefaction_is_seeded_and_independent_of_sample_order(table):
    a = rarefy(table, 500, seed=3)
    np.testing.assert_array_equal(a.sample_totals(), 500)
    b = rarefy(table, 500, seed=3)
    assert (a.counts != b.counts).nnz == 0
    rev = rarefy(table.take_samples(np.arange(table.n_samples)[::-1]), 500, seed=3)
    np.testing.assert_array_equal(rev.counts.toarray()[:, ::-1], a.counts.toarray())
    c = rarefy(table, 500, seed=4)
    assert (a.counts != c.counts).nnz > 0
    assert np.all(a.counts.toarray() <= table.counts.toarray())


def test_rarefaction_errors_name_the_samples(tmp_path, table):
    with pytest.raises(TableError, match=r"depth 1100 exceeds .* K1 \(1000 reads\)"):
        rarefy(table, 1100, seed=0)
    frac = COUNTS.copy()
    frac[1, 0] = 2.5
    t = read_table(write_hdf5(tmp_path / "f.biom", counts=frac))
    with pytest.raises(TableError, match=r"sample 'G1', feature 'rose'.*2.5 is not a whole"):
        rarefy(t, 100, seed=0)
    assert math.isnan(alpha_diversity_table(t).loc["G1", "chao1"])
