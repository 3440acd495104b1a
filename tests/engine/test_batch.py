"""Results do not depend on how patients are chunked or threaded."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from gutskin.engine import Status, integrate


@pytest.fixture(scope="module")
def vdp_batch():
    rng = np.random.default_rng(12345)
    n = 1000
    mu = np.exp(rng.uniform(np.log(0.5), np.log(300.0), n))  # some stiff, some not
    y0 = np.column_stack([rng.uniform(-2.5, 2.5, n), rng.uniform(-1.0, 1.0, n)])
    return y0, mu[:, None], np.linspace(0.0, 10.0, 11)


def test_chunk_size_and_threads_do_not_change_results(vdp_spec, vdp_batch):
    y0, mu, t = vdp_batch
    base = integrate(vdp_spec, y0, mu, t, method="auto", rtol=1e-6, chunk_size=1000)
    assert np.all(base.status == Status.OK)
    used = np.unique(base.method_used)
    assert set(used) == {0, 1}, used  # the batch exercises both solvers
    try:
        for kwargs in ({"chunk_size": 1}, {"chunk_size": 7}, {"chunk_size": 1000, "n_threads": 1},
                       {"chunk_size": 7, "n_threads": 2}):  # fmt: skip
            other = integrate(vdp_spec, y0, mu, t, method="auto", rtol=1e-6, **kwargs)
            np.testing.assert_array_equal(other.y, base.y, err_msg=str(kwargs))
            np.testing.assert_array_equal(other.status, base.status)
            np.testing.assert_array_equal(other.n_accepted, base.n_accepted)
            np.testing.assert_array_equal(other.n_rhs, base.n_rhs)
            np.testing.assert_array_equal(other.method_used, base.method_used)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


def test_one_compiled_specialisation_per_model(scalar_spec):
    """Batch shape, broadcasting, read-only or strided inputs must not trigger recompiles."""
    from gutskin.engine.codegen import load_kernel

    t = np.linspace(0.0, 1.0, 21)
    ro_y0 = np.ones((4, 1))
    ro_y0.flags.writeable = False
    calls = [
        ([1.0], [0.5, 0.0, 0.0, 1.0, 0.0], t),  # one patient
        ([1.0], np.full((3, 5), 0.5), t),  # broadcast y0
        (np.ones((3, 1)), [0.5, 0.0, 0.0, 1.0, 0.0], t),  # broadcast params
        (ro_y0, np.broadcast_to([0.5, 0.0, 0.0, 1.0, 0.0], (4, 5)), t[::2]),  # read-only, strided
    ]
    for y0, p, te in calls:
        for method in ("dopri5", "auto"):
            assert np.all(integrate(scalar_spec, y0, p, te, method=method).status == Status.OK)
    assert len(load_kernel(scalar_spec).solve_batch.signatures) == 1
