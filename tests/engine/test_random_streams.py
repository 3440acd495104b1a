"""Per-patient random streams."""

import numpy as np

from gutskin.engine.random import STREAMS, patient_draws, patient_rng


def test_patient_draws_match_one_generator_per_patient():
    idx = [4, 0, 17]
    got = patient_draws(3, idx, "observation", lambda g: g.random((2, 5)), shape=(2, 5))
    assert got.shape == (3, 2, 5)
    for row, i in zip(got, idx, strict=True):
        np.testing.assert_array_equal(row, patient_rng(3, i, "observation").random((2, 5)))
    # streams are independent and a patient's draw does not depend on its neighbours
    other = patient_draws(3, idx, "dropout", lambda g: g.random())
    assert not np.isin(other, got).any()
    np.testing.assert_array_equal(
        patient_draws(3, [17], "dropout", lambda g: g.random()), other[2:]
    )


def test_patient_draws_empty_and_stream_names():
    assert patient_draws(1, [], "adherence", lambda g: g.random(3), shape=(3,)).shape == (0, 3)
    assert len(set(STREAMS.values())) == len(STREAMS)
