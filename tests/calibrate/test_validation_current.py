"""docs/validation.md is regenerated whenever the data it depends on change."""

from pathlib import Path

from gutskin.calibrate.validate import FITTED_DEFAULT, digest_line, input_digests

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
