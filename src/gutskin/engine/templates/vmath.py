# Vectorisable exp, log, pow and tanh for the SIMD-lane kernels.
#
# libm's exp/log/pow are opaque calls, which stop LLVM from vectorising a loop
# over patients.  These versions use only arithmetic, comparisons, floor and
# bit casts, so a loop that calls them compiles to AVX2/AVX-512 code.
# Accuracy (checked against libm over 2e6 random arguments, tests/scale):
# exp and log <= 1 ulp; pow = exp(y*log|x|) has a relative error of about
# |y*log x| * 2**-53.  Special values follow IEEE/libm (inf, nan, 0, negative
# bases with integer exponents, subnormal arguments and results).
#
# exp: x = k ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2), Taylor polynomial
# of degree 13 for e^r (truncation < 4e-18), 2^k applied in two halves so that
# results down to the subnormal range and up to overflow come out right.
# log: fdlibm's e_log.c (Sun Microsystems, 1993): x = 2^e m, m in
# [sqrt(2)/2, sqrt(2)), s = f/(2+f), minimax polynomial Lg1..Lg7 in s^2.
import math  # codegen: strip

import numpy as np  # codegen: strip
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


@intrinsic
def _f64_bits(typingctx, x):
    """Reinterpret a float64 as int64 (no conversion)."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, x):
    """Reinterpret an int64 as float64 (no conversion)."""
    if not isinstance(x, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


VM_LOG2E = 1.4426950408889634
VM_LN2_HI = 6.93147180369123816490e-01
VM_LN2_LO = 1.90821492927058770002e-10
VM_LG1 = 6.666666666666735130e-01
VM_LG2 = 3.999999999940941908e-01
VM_LG3 = 2.857142874366239149e-01
VM_LG4 = 2.222219843214978396e-01
VM_LG5 = 1.818357216161805012e-01
VM_LG6 = 1.531383769920937332e-01
VM_LG7 = 1.479819860511658591e-01
VM_SQRT2 = 1.4142135623730951
VM_TINY = 2.2250738585072014e-308  # smallest normal float64
VM_2P54 = 18014398509481984.0


@njit(inline="always", error_model="numpy")
def vexp(x):
    """e**x from arithmetic only (<= 1 ulp)."""
    xc = min(max(x, -745.2), 709.8)
    kf = math.floor(xc * VM_LOG2E + 0.5)
    r = (xc - kf * VM_LN2_HI) - kf * VM_LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    k = np.int64(kf)
    k1 = k >> 1
    k2 = k - k1
    res = p * _bits_f64((k1 + 1023) << 52) * _bits_f64((k2 + 1023) << 52)
    res = math.inf if x > 709.8 else res
    res = 0.0 if x < -745.2 else res
    return x if x != x else res


@njit(inline="always", error_model="numpy")
def vlog(x):
    """Natural logarithm from arithmetic and bit casts (<= 1 ulp)."""
    tiny = x < VM_TINY
    xs = x * VM_2P54 if tiny else x
    bits = _f64_bits(xs)
    e = ((bits >> 52) & 0x7FF) - 1023 - (54 if tiny else 0)
    m = _bits_f64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > VM_SQRT2
    m = m * 0.5 if big else m
    ef = float(e + (1 if big else 0))
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (VM_LG2 + w * (VM_LG4 + w * VM_LG6))
    t2 = z * (VM_LG1 + w * (VM_LG3 + w * (VM_LG5 + w * VM_LG7)))
    hfsq = 0.5 * f * f
    res = ef * VM_LN2_HI - ((hfsq - (s * (hfsq + (t1 + t2)) + ef * VM_LN2_LO)) - f)
    res = math.nan if x < 0.0 else res
    res = -math.inf if x == 0.0 else res
    return x if (x == math.inf or x != x) else res


@njit(inline="always", error_model="numpy")
def vpow(x, y):
    """x**y as exp(y*log|x|), with libm's rules for zero, negative x and y == 0."""
    r = vexp(y * vlog(abs(x)))
    yint = math.floor(y) == y
    odd = yint and math.floor(0.5 * y) * 2.0 != y
    r = -r if (x < 0.0 and odd) else r
    r = math.nan if (x < 0.0 and not yint) else r
    return 1.0 if (y == 0.0 or x == 1.0) else r


@njit(inline="always", error_model="numpy")
def vtanh(x):
    """tanh from vexp; an odd Taylor polynomial near 0 avoids cancellation."""
    a = abs(x)
    big = 1.0 - 2.0 / (vexp(2.0 * a) + 1.0)
    z = a * a
    small = a * (
        1.0 + z * (-1.0 / 3.0 + z * (2.0 / 15.0 + z * (-17.0 / 315.0 + z * (62.0 / 2835.0))))
    )
    r = small if a < 0.03 else big
    r = -r if x < 0.0 else r
    return x if x != x else r


# cos: fdlibm's k_sin.c / k_cos.c polynomials (Sun Microsystems, 1993) on
# |r| <= pi/4 after a three-part Cody-Waite reduction by pi/2 (fdlibm e_rem_pio2.c's
# medium case), exact for |x| < 2**20 * pi/2; the smooth inputs' arguments
# omega*t + phi stay far below that.
VM_2_PI = 0.63661977236758134308
VM_PIO2_1 = 1.57079632673412561417e00
VM_PIO2_2 = 6.07710050630396597660e-11
VM_PIO2_3 = 2.02226624871116645580e-21
VM_S1 = -1.66666666666666324348e-01
VM_S2 = 8.33333333332248946124e-03
VM_S3 = -1.98412698298579493134e-04
VM_S4 = 2.75573137070700676789e-06
VM_S5 = -2.50507602534068634195e-08
VM_S6 = 1.58969099521155010221e-10
VM_C1 = 4.16666666666666019037e-02
VM_C2 = -1.38888888888741095749e-03
VM_C3 = 2.48015872894767294178e-05
VM_C4 = -2.75573143513906633035e-07
VM_C5 = 2.08757232129817482790e-09
VM_C6 = -1.13596475577881948265e-11


@njit(inline="always", error_model="numpy")
def vcos(x):
    """cos(x) from arithmetic only (a few ulp for |x| < 1.6e6; nan for inf and nan)."""
    nf = math.floor(x * VM_2_PI + 0.5)
    r = ((x - nf * VM_PIO2_1) - nf * VM_PIO2_2) - nf * VM_PIO2_3
    z = r * r
    s = r + r * z * (VM_S1 + z * (VM_S2 + z * (VM_S3 + z * (VM_S4 + z * (VM_S5 + z * VM_S6)))))
    c = 1.0 - (
        0.5 * z
        - z * z * (VM_C1 + z * (VM_C2 + z * (VM_C3 + z * (VM_C4 + z * (VM_C5 + z * VM_C6)))))
    )
    quad = np.int64(nf) & 3
    res = c if quad == 0 else -s
    res = -c if quad == 2 else res
    res = s if quad == 3 else res
    return x - x if (x != x or abs(x) == math.inf) else res
