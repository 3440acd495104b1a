"""Random streams: Philox known answers, one registry of disjoint keys, stable draws."""

import itertools

import numpy as np
import pytest
from scipy import stats

from gutskin.engine.random import (
    PATIENT_STREAMS,
    RUN_STREAMS,
    check_seed,
    derived_seed,
    name_key,
    normals,
    ou_daily_paths,
    philox4x32,
    run_rng,
    uniforms,
)


def test_philox_known_answers():
    """Random123's known-answer vectors for Philox4x32-10 (kat_vectors)."""
    cases = [
        ([0, 0, 0, 0], (0, 0), [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]),
        (
            [0xFFFFFFFF] * 4,
            (0xFFFFFFFF, 0xFFFFFFFF),
            [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD],
        ),
        (
            [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344],
            (0xA4093822, 0x299F31D0),
            [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1],
        ),
    ]
    for ctr, key, want in cases:
        assert philox4x32([ctr], key)[0].tolist() == want


def test_stream_ids_are_one_disjoint_registry():
    ids = [*PATIENT_STREAMS.values(), *RUN_STREAMS.values()]
    assert len(ids) == len(set(ids)), "two streams share counter word 0"
    assert not set(PATIENT_STREAMS) & set(RUN_STREAMS)
    assert all(0 < i < 2**32 for i in ids)


def test_every_stream_key_is_disjoint():
    """Each (stream, index, sub) pair owns a different counter, hence a different bit
    stream: sample the first numbers of many keys and find no repeats.  The old scheme
    gave the allocation stream key (5,) = patient 5's parameter draws."""
    seen: dict[float, tuple] = {}
    streams = [*PATIENT_STREAMS, *RUN_STREAMS]
    for s, i, sub in itertools.product(streams, [0, 1, 5, 2000, 2005], [0, 1, 7]):
        for pos, v in enumerate(uniforms(3, s, [i], 4, sub=sub)[0]):
            assert v not in seen, (s, i, sub, pos, seen.get(v))
            seen[v] = (s, i, sub, pos)
    # run-level generators and derived seeds differ from each other too
    firsts = {run_rng(3, s, i).random() for s in RUN_STREAMS for i in range(3)}
    assert len(firsts) == 3 * len(RUN_STREAMS)
    seeds = {derived_seed(3, s, i) for s in RUN_STREAMS for i in range(50)}
    assert len(seeds) == 50 * len(RUN_STREAMS)


def test_draws_do_not_depend_on_batch_or_window():
    a = uniforms(9, "observation", [4, 0, 17], 10)
    np.testing.assert_array_equal(uniforms(9, "observation", [17], 10), a[2:])
    np.testing.assert_array_equal(uniforms(9, "observation", [0, 4, 17], 6, first=4)[1], a[0, 4:])
    z = normals(9, "noise", [3], 8)
    np.testing.assert_array_equal(normals(9, "noise", [3], 3, first=5), z[:, 5:])
    assert uniforms(9, "dropout", [], 3).shape == (0, 3)


def test_uniforms_and_normals_are_well_distributed():
    u = uniforms(1, "parameters", np.arange(200), 500).ravel()
    assert 0.0 < u.min() and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    z = normals(1, "noise", np.arange(100), 1000).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # neighbouring patients and positions are uncorrelated
    m = uniforms(2, "screening", np.arange(5000), 2)
    assert abs(np.corrcoef(m[:, 0], m[:, 1])[0, 1]) < 0.05
    assert abs(np.corrcoef(m[:-1, 0], m[1:, 0])[0, 1]) < 0.05


def test_seeds_are_checked():
    assert check_seed(2**64 - 1) == 2**64 - 1
    for bad in (-1, 2**64, 1.5, True, "3"):
        with pytest.raises(ValueError, match="seed must be an integer"):
            check_seed(bad)
    with pytest.raises(KeyError, match="unknown random stream"):
        uniforms(1, "nope", [0], 1)


def test_name_keys_of_the_parameter_table_are_unique():
    from gutskin.simulation import get_model

    names = get_model("acne").parameter_names
    assert len({name_key(n) for n in names}) == len(names)


def test_ou_paths_statistics_and_windows():
    x = ou_daily_paths(0, "noise", np.arange(40), 0.5, 10.0, 0, 5000, origin=-3650)
    assert abs(x.std() - 0.5) < 0.02
    lag = 10
    r = np.mean([np.corrcoef(row[:-lag], row[lag:])[0, 1] for row in x])
    assert abs(r - np.exp(-1.0)) < 0.03
    # a later window of the same patient is the same path (to exp(-20) of the SD)
    w = ou_daily_paths(0, "noise", np.arange(40), 0.5, 10.0, 300, 50, origin=-3650)
    np.testing.assert_allclose(w, x[:, 300:350], atol=0.5 * np.exp(-20) * 10)
    assert not ou_daily_paths(0, "noise", [1], 0.0, 10.0, 0, 5, origin=0).any()
    with pytest.raises(ValueError):
        ou_daily_paths(0, "noise", [1], -1.0, 10.0, 0, 5, origin=0)
