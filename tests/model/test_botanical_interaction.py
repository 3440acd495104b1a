"""The botanical-probiotic interaction term (calibrated to Rinaldi 2022 group II)."""

import numpy as np

from gutskin.calibrate.objective import simulate_cohort
from gutskin.model import acne_model
from gutskin.population.pipeline import output as _output

BOT = {"intervention": "botanical", "dose": 1.0, "stop_day": 100.0}
PRO = [{"intervention": s, "dose": 1.0e9, "stop_day": 100.0} for s in ("BR03", "LC03", "LS03")]


def _effect(interaction: float, regimens: list) -> np.ndarray:
    spec = acne_model().with_parameters(bot_pb_interaction=interaction)
    spec, res = simulate_cohort(spec, 4, 3, regimens, 56.0, burn_in=120.0)
    return _output(spec, res, "botanical_effect")[:, -1]


def test_no_interaction_is_independent_action_and_interaction_attenuates():
    alone = _effect(0.25, [BOT])
    emax, ed50 = acne_model().parameter("bot_emax").value, acne_model().parameter("bot_ed50").value
    # without probiotics the term is the plain Emax model whatever the interaction
    np.testing.assert_allclose(alone, emax * 1.0 / (1.0 + ed50), rtol=1e-9)
    np.testing.assert_allclose(_effect(0.0, [BOT, *PRO]), alone, rtol=1e-9)
    combined = _effect(0.25, [BOT, *PRO])
    spec = acne_model()
    spec, res = simulate_cohort(spec, 4, 3, [BOT, *PRO], 56.0, burn_in=120.0)
    load = sum(_output(spec, res, f"pb_load_{k}")[:, -1] for k in (1, 2, 3))
    np.testing.assert_allclose(combined, alone / (1.0 + 0.25 * load), rtol=1e-6)
    assert (combined < alone).all()
