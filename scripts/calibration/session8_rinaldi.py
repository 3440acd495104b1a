"""Session 8 (issue 30), stage B: the Rinaldi arms on the means of 100 pooled replicate trials.

Nelder-Mead in log space over the named parameters; J = sum over the four arms of
((% change of arm means at week 8 - observed) / 2.5)^2; every evaluation is logged as one
JSON line to /tmp/fit30.log. Usage (the session-8 run):

    python scripts/calibration/session8_rinaldi.py gut_skin_gain,bot_emax,bot_pb_interaction,pb_ed50 \
        activity_sd=0.6 flare_sd=0.3 gut_skin_gain=1.47 bot_emax=0.40 bot_pb_interaction=0.40 pb_ed50=2.0e9

(`k=v` pairs fix a parameter, or give a fitted one its starting value.) The packaged
`gutskin calibrate --replicates N --groups probiotic_trial` does the same with the
package's optimizer; this script is the record of what was run.
"""

import sys, json, time, numpy as np
from scipy.optimize import minimize
from gutskin.calibrate.targets import load_targets
from gutskin.calibrate.replicates import pooled_trials
from gutskin.calibrate.validate import load_fitted, FITTED_DEFAULT

ts = load_targets(None)
base, _ = load_fitted(FITTED_DEFAULT)
base = dict(base)
names = sys.argv[1].split(",")
fixed = {k: float(v) for k, v in (a.split("=") for a in sys.argv[2:] if "=" in a)}
tgt = {"placebo": -10, "probiotics": -38.89, "botanicals": -40, "probiotics_botanicals": -56.67}
log = open("/tmp/fit30.log", "a")


def stats(values):
    trials = pooled_trials(ts, values, {"rinaldi2022": 100}, seed=0)["rinaldi2022"]
    res = {}
    for tr in trials:
        if tr is None:
            continue
        ep = tr.endpoints
        for arm, e in ep.groupby("arm"):
            m0 = e[e.visit_week == 0][["inflammatory", "noninflammatory"]].mean()
            m8 = e[e.visit_week == 8][["inflammatory", "noninflammatory"]].mean()
            res.setdefault(arm, []).append(
                (
                    100 * (m8.inflammatory / m0.inflammatory - 1),
                    100 * (m8.noninflammatory / m0.noninflammatory - 1),
                )
            )
    return {a: np.mean(v, axis=0) for a, v in res.items()}


def J(x):
    values = dict(base)
    values.update(fixed)
    values.update(dict(zip(names, np.exp(x))))
    s = stats(values)
    j = sum(((s[a][0] - t) / 2.5) ** 2 for a, t in tgt.items())
    # strict ordering penalty, NIL below placebo
    rec = {
        "x": {n: float(np.exp(v)) for n, v in zip(names, x)},
        "J": float(j),
        "IL": {a: round(float(s[a][0]), 2) for a in s},
        "NIL": {a: round(float(s[a][1]), 2) for a in s},
    }
    log.write(json.dumps(rec) + "\n")
    log.flush()
    return j


x0 = np.log([fixed.get(n, base.get(n)) for n in names])
r = minimize(
    J,
    x0,
    method="Nelder-Mead",
    options={
        "maxfev": 45,
        "xatol": 0.01,
        "fatol": 0.05,
        "initial_simplex": np.vstack(
            [x0] + [x0 + 0.12 * np.eye(len(x0))[i] for i in range(len(x0))]
        ),
    },
)
log.write("DONE " + json.dumps({n: float(np.exp(v)) for n, v in zip(names, r.x)}) + f" J={r.fun}\n")
