"""Stand-ins for generated names so that the templates lint and type-check.

Never used at run time; the generated kernel module defines the real ones.
"""

import numpy as np

N_STATES = 1
N_INPUTS = 0
NONNEG_IDX = np.zeros(0, dtype=np.int64)


def rhs(t, y, p, u, dy):  # pragma: no cover
    raise NotImplementedError


def jac(t, y, p, u, J):  # pragma: no cover
    raise NotImplementedError


def observe(t, y, p, u, out):  # pragma: no cover
    raise NotImplementedError
