"""A trial whose screened population is seeded from a microbiome table."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from mb_tables import COUNTS, SAMPLES, write_classic

from gutskin.microbiome import population_for_design
from gutskin.trial.design import DesignError, builtin_designs, load_design
from gutskin.trial.run import run_trial


def _design(tmp_path, table_name: str) -> object:
    d = yaml.safe_load(builtin_designs()["rinaldi2022"].read_text())
    d["sample_size"] = 24
    d["analysis"] = {"comparisons": [{"endpoint": "inflammatory", "method": "ancova"}]}
    d["population"]["from_table"] = {
        "table": table_name,
        "kind": "gut",
        "drop_empty": True,
        "where": [],
    }
    p = tmp_path / "design.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def test_trial_population_from_gut_table(tmp_path):
    gut = [i for i, s in enumerate(SAMPLES) if s.startswith("G")]
    write_classic(tmp_path / "gut.txt", counts=COUNTS[:, gut], samples=[SAMPLES[i] for i in gut])
    design = load_design(_design(tmp_path, "gut.txt"))  # relative path resolved
    assert design.population.from_table is not None
    assert design.population.from_table.table == str(tmp_path / "gut.txt")
    with pytest.raises(DesignError, match="population_for_design"):
        run_trial(design, seed=3)  # the caller builds the table population
    res = run_trial(design, seed=3, population=population_for_design(design, 3))
    assert len(res.patients) == 24
    plain = run_trial(
        design.model_copy(
            update={"population": design.population.model_copy(update={"from_table": None})}
        ),
        seed=3,
    )
    # the table changes the screened population's gut, hence the baseline data
    assert not np.allclose(
        res.endpoints["gut_shannon"].to_numpy(),
        plain.endpoints["gut_shannon"].to_numpy(),
        equal_nan=True,
    )


def test_trial_from_missing_table_is_a_design_error(tmp_path):
    design = load_design(_design(tmp_path, "nope.txt"))
    with pytest.raises(DesignError, match=r"population\.from_table"):
        run_trial(design, seed=1)
