"""The history-matching ensemble: candidates in a box, kept only when every fitted target
is inside its band, resumable from its checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gutskin.calibrate.ensemble import candidate_box, draw_candidates, history_match, main
from gutskin.calibrate.replicates import ReplicateObjective
from gutskin.calibrate.targets import load_targets


def test_box_and_latin_hypercube():
    box = candidate_box({"a": 1.0, "b": 10.0}, 2.0, {"a": (0.1, 1.5), "b": (1.0, 100.0)})
    assert box == {"a": (0.5, 1.5), "b": (5.0, 20.0)}
    c = draw_candidates(box, 8, seed=3)
    assert c.equals(draw_candidates(box, 8, seed=3))
    for name, (lo, hi) in box.items():
        x = np.log(c[name].to_numpy())
        assert np.all((x >= np.log(lo)) & (x <= np.log(hi)))
        # one point per stratum of the log interval
        strata = np.floor((x - np.log(lo)) / (np.log(hi) - np.log(lo)) * 8)
        assert sorted(strata) == list(range(8))
    with pytest.raises(ValueError, match="spread"):
        candidate_box({"a": 1.0}, 1.0, {"a": (0.1, 2.0)})


def test_history_match_keeps_only_candidates_inside_every_band(tiny_targets, tmp_path):
    ts = load_targets(tiny_targets)
    obj = ReplicateObjective(replicates=1, rinaldi_replicates=1, pool_size=None)
    cands = pd.DataFrame({"iso_ed50": [0.05, 0.2, 0.5]})
    ck = tmp_path / "candidates.csv"
    res = history_match(ts, cands, {}, objective=obj, seed=2, checkpoint=ck)
    assert len(res) == 3
    for _, row in res.iterrows():
        means = obj.means(ts, {"iso_ed50": row["iso_ed50"]}, seed=2)
        plausible = all(abs(t.z(means[t.id])) <= 3.0 for t in obj.targets(ts))
        rinaldi_in = all(
            t.band()[0] <= means[t.id] <= t.band()[1]
            for t in obj.targets(ts)
            if t.group == "probiotic_trial"
        )
        assert bool(row["kept"]) == (plausible and rinaldi_in)
        assert row["max_implausibility"] == pytest.approx(
            max(abs(t.z(means[t.id])) for t in obj.targets(ts))
        )
    # resume: drop the last row, run again, same table
    pd.read_csv(ck).iloc[:2].to_csv(ck, index=False)
    again = history_match(ts, cands, {}, objective=obj, seed=2, checkpoint=ck)
    pd.testing.assert_frame_equal(again, res)


@pytest.mark.slow
def test_main_writes_the_ensemble_files(tiny_targets, tmp_path):
    fitted = tmp_path / "fitted.csv"
    fitted.write_text("name,value\niso_ed50,0.15\n")
    out = tmp_path / "ens"
    argv = ["--out", str(out), "--targets", str(tiny_targets), "--fitted", str(fitted)]
    argv += ["--candidates", "3", "--replicates", "1", "--rinaldi-replicates", "1"]
    assert main(argv) == 0
    members = pd.read_csv(out / "ensemble.csv")
    meta = json.loads((out / "ensemble.json").read_text())
    cands = pd.read_csv(out / "candidates.csv")
    assert list(members.columns) == ["iso_ed50", "weight"]
    assert len(members) == int(cands["kept"].sum()) == meta["members"]
    assert meta["candidates"] == 3 and "history matching" in meta["method"]


@pytest.mark.slow
def test_packaged_ensemble_members_meet_the_rinaldi_bands():
    """The packaged ensemble (issue 30) exists with its method, and replicate Rinaldi 2022
    trials on its members (the first and the last) land inside the four arms' bands, as
    they did when the members were accepted."""
    from pathlib import Path

    import gutskin.calibrate as cal
    from gutskin.calibrate.replicates import pooled_trials

    data = Path(cal.__file__).parent / "data"
    members = pd.read_csv(data / "ensemble.csv")
    meta = json.loads((data / "ensemble.json").read_text())
    assert "history matching" in meta["method"] and meta["members"] == len(members) >= 5
    assert members["weight"].sum() == pytest.approx(1.0)
    ts = load_targets(None)
    arms = [t for t in ts.targets if t.group == "probiotic_trial" and t.fit]
    fixed = {k: v for k, v in meta["center"].items() if k not in members.columns}
    for i in (0, len(members) - 1):
        values = {**fixed, **members.drop(columns="weight").iloc[i].to_dict()}
        trials = pooled_trials(ts, values, {"rinaldi2022": 40}, seed=0, pool_size=2000)
        from gutskin.calibrate.objective import trial_statistic

        for t in arms:
            mean = float(np.mean([trial_statistic(r, t) for r in trials["rinaldi2022"]]))
            lo, hi = t.band()
            assert lo <= mean <= hi, (i, t.id, mean)
