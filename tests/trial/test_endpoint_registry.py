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
