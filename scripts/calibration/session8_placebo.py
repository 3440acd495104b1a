"""Session 8 (issue 30), stage A: placebo, spread and retinoid targets on replicate means.

Nelder-Mead in log space over NAMES; J = sum z^2 over the fitted targets of GROUPS, on
means of --reps replicate trials per design (--rin for Rinaldi 2022) drawn from pools of
2,000 eligible patients (gutskin.calibrate.replicates.run_validation, seed 0); one JSON line
per evaluation to --log. Usage (the session-8 run):

    python scripts/calibration/session8_placebo.py activity_sd,care_seeking,iga_cut_2 \
        placebo_response,placebo_spread,trial_baseline,probiotic_trial,retinoid_trial \
        gut_skin_gain=1.561 bot_emax=0.4247 bot_pb_interaction=0.4247 pb_ed50=1.774e9 \
        activity_sd=0.6 flare_sd=0.3 retinoid_emax=0.7 iga_cut_2=18.0 --maxfev=25 --reps=5 --rin=50

The packaged `gutskin calibrate --replicates N --groups ...` computes the same objective
(gutskin.calibrate.replicates.ReplicateObjective); this script is the record of what was run.
"""

import sys, json, time, dataclasses, numpy as np
from scipy.optimize import minimize
from gutskin.calibrate.targets import load_targets
from gutskin.calibrate.replicates import run_validation
from gutskin.calibrate.validate import load_fitted, FITTED_DEFAULT

ts = load_targets(None)
base, _ = load_fitted(FITTED_DEFAULT)
base = dict(base)
names = [n for n in sys.argv[1].split(",") if n]
groups = sys.argv[2].split(",")
fixed = {
    k: float(v)
    for k, v in (a.split("=") for a in sys.argv[3:] if "=" in a and not a.startswith("--"))
}
REPS = int(dict(a[2:].split("=") for a in sys.argv[3:] if a.startswith("--")).get("reps", 6))
RIN = int(dict(a[2:].split("=") for a in sys.argv[3:] if a.startswith("--")).get("rin", 60))
MAXF = int(dict(a[2:].split("=") for a in sys.argv[3:] if a.startswith("--")).get("maxfev", 40))
LOG = dict(a[2:].split("=") for a in sys.argv[3:] if a.startswith("--")).get("log", "/tmp/fitA.log")
sel = [t for t in ts.targets if t.group in groups and t.simulator == "trial" and t.quantitative]
fitted = [t for t in sel if t.fit]
ts2 = dataclasses.replace(ts, targets=sel)
log = open(LOG, "a")
start = dict(base)
start.update(fixed)


def J(x):
    t0 = time.time()
    values = dict(start)
    values.update(dict(zip(names, np.exp(x))))
    reps = run_validation(
        ts2, values, replicates=REPS, rinaldi_replicates=RIN, seed=0, workers=1, pool_size=2000
    )
    means = {k: float(np.nanmean(v)) for k, v in reps.items() if v and not isinstance(v[0], dict)}
    j = sum(t.z(means[t.id]) ** 2 if np.isfinite(means[t.id]) else 100.0 for t in fitted)
    rec = {
        "x": {n: round(float(np.exp(v)), 4) for n, v in zip(names, x)},
        "J": round(j, 3),
        "s": round(time.time() - t0),
        "means": {k: round(v, 3) for k, v in means.items()},
    }
    log.write(json.dumps(rec) + "\n")
    log.flush()
    return j


x0 = np.log([start[n] for n in names])
if not names:
    J(x0)
    sys.exit()
r = minimize(
    J,
    x0,
    method="Nelder-Mead",
    options={
        "maxfev": MAXF,
        "xatol": 0.01,
        "fatol": 0.05,
        "initial_simplex": np.vstack(
            [x0] + [x0 + 0.15 * np.eye(len(x0))[i] for i in range(len(x0))]
        ),
    },
)
log.write("DONE " + json.dumps({n: float(np.exp(v)) for n, v in zip(names, r.x)}) + f" J={r.fun}\n")
