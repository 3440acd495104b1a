"""Taxonomy parsing, the guild map, guild fractions and the gut dysbiosis index."""

from __future__ import annotations

import numpy as np
import pytest
from mb_tables import COUNTS, FEATURES, LINEAGES, SAMPLES, write_classic

from gutskin.microbiome.guilds import (
    GUT_GUILDS,
    assign_features,
    dysbiosis_index,
    guild_fractions,
    gut_steady_state,
    load_guild_map,
    parse_lineage,
)
from gutskin.microbiome.readers import TableError, read_table


@pytest.fixture(scope="module")
def params():
    from gutskin.model import acne_model

    return acne_model().parameter_values()


@pytest.mark.parametrize(
    ("lineage", "expected"),
    [
        (
            "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; "
            "f__[Mogibacteriaceae]; g__; s__",
            {"phylum": "Firmicutes", "family": "Mogibacteriaceae"},
        ),
        (
            "d__Bacteria;p__Firmicutes_A;c__Clostridia;o__Lachnospirales;f__Lachnospiraceae;"
            "g__Blautia_A;s__Blautia_A obeum",
            {"phylum": "Firmicutes", "genus": "Blautia", "species": "Blautia obeum"},
        ),
        (
            "D_0__Bacteria;D_1__Proteobacteria;D_2__Gammaproteobacteria;D_5__uncultured",
            {"phylum": "Proteobacteria", "class": "Gammaproteobacteria"},
        ),
        (
            "k__Bacteria;p__Actinobacteria;c__Actinobacteria (class);o__Actinomycetales;"
            "f__Propionibacteriaceae;g__Propionibacterium;s__acnes",
            {"class": "Actinobacteria", "species": "Propionibacterium acnes"},
        ),
        ("Root;Bacteria;Bacteroidetes;Bacteroidia", {"phylum": "Bacteroidetes"}),
        ("d__Bacteria;p__Bacillota;s__Lactobacillus_sp.", {"phylum": "Bacillota"}),
        ("Unassigned", {}),
    ],
)
def test_parse_lineage(lineage, expected):
    got = parse_lineage(lineage)
    for rank, name in expected.items():
        assert got[rank] == name
    if not expected:
        assert got == {}
    assert "species" not in got or " " in got["species"]


@pytest.mark.parametrize(
    ("lineage", "gut", "skin"),
    [
        ("d__Bacteria;p__Bacteroidota;c__Bacteroidia", "gut_bacteroidetes", None),
        ("d__Bacteria;p__Pseudomonadota;c__Gammaproteobacteria", "gut_proteo", None),
        ("d__Bacteria;p__Campylobacterota;c__Campylobacteria", "gut_proteo", None),
        (
            "d__Bacteria;p__Bacillota;c__Bacilli;o__Lactobacillales;f__Lactobacillaceae;"
            "g__Lacticaseibacillus;s__Lacticaseibacillus rhamnosus",
            "gut_lacto",
            None,
        ),
        (
            "k__Bacteria;p__Firmicutes;c__Bacilli;f__Lactobacillaceae;g__Ligilactobacillus",
            "gut_lacto",
            None,
        ),
        ("k__Bacteria;p__Firmicutes;f__Ruminococcaceae;g__Butyricicoccus", "gut_butyrate", None),
        ("k__Bacteria;p__Firmicutes;c__Bacilli;g__Streptococcus", "gut_butyrate", None),
        ("k__Bacteria;p__Actinobacteria;g__Bifidobacterium;s__longum", "gut_bifido", None),
        (
            "d__Bacteria;p__Actinomycetota;g__Cutibacterium;s__Cutibacterium acnes",
            "gut_bifido",
            "C_acnes",
        ),
        ("k__Bacteria;p__Actinobacteria;g__Propionibacterium;s__granulosum", "gut_bifido", "other"),
        ("k__Bacteria;p__Actinobacteria;g__Propionibacterium;s__", "gut_bifido", "C_acnes"),
        ("k__Bacteria;p__Firmicutes;g__Staphylococcus;s__aureus", "gut_butyrate", "S_aureus"),
        ("k__Bacteria;p__Firmicutes;g__Staphylococcus;s__hominis", "gut_butyrate", "S_epidermidis"),
        ("k__Bacteria;p__Verrucomicrobia;g__Akkermansia", None, None),
        ("k__Archaea;p__Euryarchaeota;g__Methanobrevibacter", None, None),
        ("", None, None),
    ],
)
def test_guild_map_rules(lineage, gut, skin):
    gmap = load_guild_map()
    for site, want in (("gut", gut), ("skin", skin)):
        a = assign_features([lineage], gmap, site)
        got = None if a.index[0] < 0 else a.targets[a.index[0]]
        assert got == want, (site, lineage)


def test_guild_map_is_versioned_and_documented():
    gmap = load_guild_map()
    assert gmap.version == "1.0.0"
    assert (gmap.rules["source"] != "").all() and (gmap.rules["notes"] != "").all()


def test_bad_user_guild_map(tmp_path):
    p = tmp_path / "map.csv"
    p.write_text("rank,pattern,site,target,role,source,notes\ngenus,X,gut,gut_nope,core,s,n\n")
    with pytest.raises(TableError, match="rule 1: target 'gut_nope'"):
        load_guild_map(p)


def test_fractions_sum_to_one_and_unmapped_is_reported(tmp_path):
    t = read_table(write_classic(tmp_path / "t.txt"))
    gmap = load_guild_map()
    gut = guild_fractions(t, assign_features(list(t.taxonomy), gmap, "gut"))
    parts = [*GUT_GUILDS, "other_fraction", "unmapped_fraction"]
    np.testing.assert_allclose(gut[parts].sum(axis=1), 1.0)
    total = COUNTS.sum(axis=0)
    akk = COUNTS[FEATURES.index("akk")]
    np.testing.assert_allclose(gut.loc[SAMPLES, "unmapped_fraction"], akk / total)
    lumped = COUNTS[FEATURES.index("strep")] + COUNTS[FEATURES.index("cory")]
    lumped = lumped + COUNTS[FEATURES.index("staph")] + COUNTS[FEATURES.index("saur")]
    lumped = lumped + COUNTS[FEATURES.index("cacn")]  # Actinobacteria lumped into bifido
    np.testing.assert_allclose(gut.loc[SAMPLES, "lumped_fraction"], lumped / total)
    skin = guild_fractions(t, assign_features(list(t.taxonomy), gmap, "skin"))
    assert skin.loc["K1", "C_acnes"] == pytest.approx(850 / COUNTS[:, 4].sum())
    assert skin.loc["K1", "S_aureus"] == pytest.approx(1 / COUNTS[:, 4].sum())
    assert skin.loc["K1", "unmapped_fraction"] > 0  # Corynebacterium, E. coli, ...
    assert set(LINEAGES) == set(FEATURES)


def test_gut_steady_state_is_the_model_initial_state(params):
    from gutskin.model import acne_model

    spec = acne_model()
    y0 = np.array(spec.initial_values())[[spec.state_names.index(g) for g in GUT_GUILDS]]
    np.testing.assert_allclose(gut_steady_state(params["gut_dysbiosis"], params), y0, rtol=1e-5)


def test_dysbiosis_index_recovers_the_model_drive(params):
    for d in (0.0, 0.4, 1.0, 1.7):
        ss = gut_steady_state(d, params)
        fit = dysbiosis_index(ss / ss.sum(), params)
        assert fit.index[0] == pytest.approx(d, abs=2e-3)
        assert fit.rmse[0] < 1e-3


def test_dysbiosis_index_follows_the_acne_directions(params):
    ref = gut_steady_state(0.0, params)
    ref = ref / ref.sum()
    i = {g: k for k, g in enumerate(GUT_GUILDS)}
    base = dysbiosis_index(ref, params).index[0]

    def shifted(guild: str, factor: float) -> float:
        q = ref.copy()
        q[i[guild]] *= factor
        return float(dysbiosis_index(q / q.sum(), params).index[0])

    # Yan 2018: fewer Bifidobacterium/Actinobacteria and more Proteobacteria in acne
    assert shifted("gut_bifido", 0.31) > base + 0.5
    assert shifted("gut_proteo", 1.5) > base
    # Deng 2018: fewer butyrate producers, more Bacteroidetes
    assert shifted("gut_butyrate", 0.7) > base
    assert shifted("gut_bacteroidetes", 1.3) > base
    assert shifted("gut_bifido", 2.0) < base  # healthier than the reference


def test_dysbiosis_of_the_test_samples_rises_with_their_design(tmp_path, params):
    t = read_table(write_classic(tmp_path / "t.txt"))
    gut = guild_fractions(t, assign_features(list(t.taxonomy), load_guild_map(), "gut"))
    q = gut.loc[["G1", "G2", "G3", "G4"], list(GUT_GUILDS)].to_numpy()
    fit = dysbiosis_index(q, params, reads=COUNTS[:, :4].sum(axis=0))
    assert np.all(np.diff(fit.index) > 0), fit.index


def test_guild_patterns_match_in_linear_time(tmp_path):
    """Patterns that backtrack catastrophically in Python's ``re`` ((a+)+, (a|a)+, (a|aa)+;
    ``(a|a)+`` takes minutes on 30 characters there) are matched by RE2 in linear time."""
    import time

    p = tmp_path / "redos.csv"
    p.write_text(
        "# version: 1\nrank,pattern,site,target,role,source,notes\n"
        "genus,(a+)+$,gut,other,lumped,x,y\n"
        "genus,(a|a)+,gut,other,lumped,x,y\n"
        "genus,(a|aa)+,gut,other,lumped,x,y\n"
        "genus,Bacteroides,gut,gut_bacteroidetes,core,x,y\n"
    )
    gmap = load_guild_map(p)
    names = [f"k__Bacteria; g__{'a' * 20_000}1", "k__Bacteria; g__bacteroides"]
    t0 = time.monotonic()
    got = assign_features(names, gmap, "gut")
    assert time.monotonic() - t0 < 2.0
    assert got.index[0] == -1  # no rule matches the long name
    assert got.targets[got.index[1]] == "gut_bacteroidetes"  # case-insensitive, as before
