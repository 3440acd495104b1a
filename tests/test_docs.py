"""Generated documentation is up to date with the model spec."""

from gutskin.report.build_docs import DIAGRAM, DOCS, model_markdown


def test_model_doc_is_current():
    current = (DOCS / "model.md").read_text()
    assert current == model_markdown(), "docs/model.md is stale: run `make docs`"


def test_model_doc_has_every_parameter_and_equation():
    from gutskin.model import acne_model

    spec = acne_model()
    text = (DOCS / "model.md").read_text()
    for p in spec.parameters:
        assert f"`{p.name}`" in text
    assert text.count("\\frac{d\\,") == len(spec.states)
    assert (DOCS / DIAGRAM).exists()
