"""The history-matching ensemble: candidates in a box, kept only when every fitted target
is inside its band, resumable from its checkpoint."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from gutskin.calibrate.ensemble import (
    candidate_box,
    draw_candidates,
    history_match,
    main,
    members_of,
)
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


def test_candidates_are_scored_and_members_selected(tiny_targets, tmp_path):
    ts = load_targets(tiny_targets)
    obj = ReplicateObjective(replicates=1, rinaldi_replicates=1, pool_size=None)
    cands = pd.DataFrame({"iso_ed50": [0.05, 0.2, 0.5]})
    ck = tmp_path / "candidates.csv"
    res = history_match(ts, cands, {}, objective=obj, seed=2, checkpoint=ck)
    assert len(res) == 3
    for _, row in res.iterrows():
        means = obj.means(ts, {"iso_ed50": row["iso_ed50"]}, seed=2)
        z = {t.id: t.z(means[t.id]) for t in obj.targets(ts)}
        assert row["J"] == pytest.approx(sum(v * v for v in z.values()))
        assert row["max_abs_z"] == pytest.approx(max(abs(v) for v in z.values()))
        out = [
            t.id
            for t in obj.targets(ts)
            if t.group == "probiotic_trial" and not t.band()[0] <= means[t.id] <= t.band()[1]
        ]
        assert str(row["outside_band"]).split() == out
    # members: J below the threshold and no Rinaldi arm outside its band
    j_max = float(res["J"].median())
    kept = members_of(res, j_max)
    want = (res["J"] <= j_max) & (res["outside_band"].astype(str).str.strip() == "")
    assert kept.tolist() == want.tolist()
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
    assert len(members) == meta["members"] <= 3
    assert meta["candidates"] == len(cands) == 3 and "likelihood-ratio" in meta["method"]
    assert meta["J_max"] > meta["J_center"]


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
    assert "likelihood-ratio" in meta["method"] and meta["members"] == len(members) >= 5
    assert members["weight"].sum() == pytest.approx(1.0)
    ts = load_targets(None)
    arms = [t for t in ts.targets if t.group == "probiotic_trial" and t.fit]
    fixed = meta["fixed"]
    for i in (0, len(members) - 1):
        values = {**fixed, **members.drop(columns="weight").iloc[i].to_dict()}
        trials = pooled_trials(ts, values, {"rinaldi2022": 40}, seed=0, pool_size=2000)
        from gutskin.calibrate.objective import trial_statistic

        for t in arms:
            mean = float(np.mean([trial_statistic(r, t) for r in trials["rinaldi2022"]]))
            lo, hi = t.band()
            assert lo <= mean <= hi, (i, t.id, mean)


def test_checkpoint_of_other_candidates_is_refused(tiny_targets, tmp_path):
    ts = load_targets(tiny_targets)
    ck = tmp_path / "candidates.csv"
    pd.DataFrame({"iso_ed50": [0.3], "J": [1.0]}).to_csv(ck, index=False)
    obj = ReplicateObjective(replicates=1, rinaldi_replicates=1, pool_size=None)
    with pytest.raises(ValueError, match="not these candidates"):
        history_match(
            ts, pd.DataFrame({"iso_ed50": [0.2, 0.4]}), {}, objective=obj, seed=1, checkpoint=ck
        )
