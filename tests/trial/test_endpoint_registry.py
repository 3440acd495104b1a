"""One endpoint registry feeds the design schema, statistics, runner and sensitivity."""

from gutskin.sensitivity.outcomes import _RESPONDER
from gutskin.simulation import get_model
from gutskin.trial import design, statistics
from gutskin.trial.endpoints import REGISTRY
from gutskin.trial.run import MODEL_OUTPUTS


def test_every_list_of_endpoints_is_the_registry():
    assert design.ENDPOINTS == {e.name: e.kind for e in REGISTRY.values()}
    by_kind = (
        statistics.COUNT_ENDPOINTS
        + statistics.ORDINAL_ENDPOINTS
        + statistics.BINARY_ENDPOINTS
        + statistics.CONTINUOUS_ENDPOINTS
    )
    assert sorted(by_kind) == sorted(REGISTRY) and set(statistics.ENDPOINTS) == set(REGISTRY)
    # the two responder endpoints are binary everywhere (gags_improved was missing once)
    assert set(statistics.BINARY_ENDPOINTS) == _RESPONDER == {"iga_success", "gags_improved"}
    assert design.ENDPOINTS["gags"] == "ordinal"  # was "score" in one list, "ordinal" in another
    for kinds in design.METHODS.values():
        assert set(kinds) <= {"count", "ordinal", "binary", "continuous"}


def test_model_outputs_exist_and_responders_have_rules():
    spec = get_model("acne")
    outputs = set(spec.state_names) | set(spec.assignment_names)
    for e in REGISTRY.values():
        if e.model_output is not None:
            assert e.model_output in outputs, e.name
            assert MODEL_OUTPUTS[e.name] == e.model_output
        assert (e.kind == "binary") == (e.responder_rule is not None), e.name


def test_method_registry_feeds_the_design_schema_and_the_docs():
    """Issue 32: methods form a registry; the schema and the docs table are read from it."""
    from pathlib import Path

    from gutskin.trial import design, statistics
    from gutskin.trial.methods import REGISTRY, markdown_table

    assert set(design.METHODS) == set(REGISTRY) == set(statistics.METHODS)
    for name, spec in REGISTRY.items():
        assert design.METHODS[name] == spec.kinds
        assert callable(spec.analyse)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "statistics.md").read_text()
    start, end = "<!-- methods-table:start -->\n", "<!-- methods-table:end -->"
    table = docs[docs.index(start) + len(start) : docs.index(end)]
    assert table == markdown_table(), "regenerate the table in docs/statistics.md:\n" + (
        markdown_table()
    )


def test_statistics_has_no_method_if_chain():
    """compare dispatches through the registry: no branch names a method."""
    import inspect

    from gutskin.trial.statistics import compare

    src = inspect.getsource(compare)
    for name in ("ancova", "negbin", "responder", "mmrm"):
        assert f'method == "{name}"' not in src, name


def test_responder_rules_are_code_in_the_registry():
    """Issue 32: a responder endpoint's rule lives in its record, used by the trial."""
    import numpy as np

    from gutskin.trial.endpoints import REGISTRY, responder_endpoints

    names = [e.name for e in responder_endpoints()]
    assert names == ["iga_success", "gags_improved"]
    iga = REGISTRY["iga_success"]
    np.testing.assert_array_equal(
        iga.responder(np.array([1.0, 1.0, 2.0]), np.array([3.0, 2.0, 4.0])), [1.0, 0.0, 0.0]
    )
    gags = REGISTRY["gags_improved"]
    np.testing.assert_array_equal(gags.responder(np.array([10.0, 12.0]), np.array([14.0, 14.0])),
                                  [1.0, 0.0])  # fmt: skip
    for e in responder_endpoints():
        assert e.kind == "binary" and e.severity in REGISTRY
