"""docs/validation.md is regenerated whenever the data it depends on change."""

from pathlib import Path

import pytest

from gutskin.calibrate.report import digest_line, input_digests
from gutskin.calibrate.validate import FITTED_DEFAULT

DOC = Path(__file__).parents[2] / "docs" / "validation.md"


def test_validation_report_matches_current_model_and_targets():
    recorded = [ln for ln in DOC.read_text().splitlines() if ln.startswith("Inputs (SHA-256")]
    assert recorded, "docs/validation.md has no inputs line: run `make validate`"
    current = digest_line(input_digests(None, FITTED_DEFAULT))
    assert recorded[0] == current, (
        "docs/validation.md is stale (parameters, model, strains, targets or fitted values "
        "changed since it was generated): run `make validate` and commit the result"
    )


def test_digests_change_with_the_file(tmp_path):
    f = tmp_path / "t.yaml"
    f.write_text("a: 1\n")
    one = input_digests(f, None)
    f.write_text("a: 2\n")
    two = input_digests(f, None)
    assert one["targets"] != two["targets"] and one["parameters.csv"] == two["parameters.csv"]
    assert one["fitted"] == "none"


@pytest.mark.slow
def test_validation_replicates_do_not_depend_on_worker_count():
    from gutskin.calibrate.replicates import run_validation
    from gutskin.calibrate.targets import load_targets
    from gutskin.calibrate.validate import FITTED_DEFAULT, load_fitted

    ts = load_targets()
    values, _ = load_fitted(FITTED_DEFAULT)
    kw = {"replicates": 1, "rinaldi_replicates": 3, "seed": 5, "pool_size": 200}
    one = run_validation(ts, values, workers=1, **kw)
    two = run_validation(ts, values, workers=2, **kw)
    assert one.keys() == two.keys()
    for k in one:
        assert repr(one[k]) == repr(two[k]), k
    rin = [t.id for t in ts.targets if t.options.get("design") == "rinaldi2022"]
    assert rin and all(len(one[k]) == 3 for k in rin)
