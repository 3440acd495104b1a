"""Stand-ins for generated names so that the templates lint and type-check.

Never used at run time; the generated kernel module defines the real ones
(see :func:`gutskin.engine.codegen.generate_model_source`).
"""

import numpy as np

N_STATES = 1
N_PARAMS = 0
N_INPUTS = 0
N_Q = 0
N_W = 0
LANES = 8
NONNEG_IDX = np.zeros(0, dtype=np.int64)
BLK_N = 1
BLK_PERM = np.zeros(1, dtype=np.int64)
BLK_START = np.array([0, 1], dtype=np.int64)
BLK_LUOFF = np.array([0, 1], dtype=np.int64)
BLK_LUSIZE = 1
BLK_OFF_PTR = np.zeros(2, dtype=np.int64)
BLK_OFF_COL = np.zeros(0, dtype=np.int64)


def prepare_params(p, q):  # pragma: no cover
    raise NotImplementedError


def prepare_inputs(q, u, w):  # pragma: no cover
    raise NotImplementedError


def rhs_fast(t, y, q, w, dy):  # pragma: no cover
    raise NotImplementedError


def rhs_lanes(n, t, y, q, w, dy):  # pragma: no cover
    raise NotImplementedError


def jac_fast(t, y, q, w, J):  # pragma: no cover
    raise NotImplementedError


def jac_lanes(n, t, y, q, w, J):  # pragma: no cover
    raise NotImplementedError


def observe_fast(t, y, q, w, out):  # pragma: no cover
    raise NotImplementedError
