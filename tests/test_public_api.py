"""The public API re-exported lazily from `gutskin`, and the README's Python quickstart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gutskin

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.parametrize("name", gutskin.__all__)
def test_every_public_name_resolves(name):
    assert getattr(gutskin, name) is not None
    assert name in dir(gutskin)


def test_public_names_are_the_implementations():
    from gutskin.engine import ModelSpec, integrate
    from gutskin.io.sbml import to_sbml
    from gutskin.microbiome.profile import profile_table
    from gutskin.simulation import get_model, simulate
    from gutskin.trial.design import load_design
    from gutskin.trial.power import power_curve
    from gutskin.trial.run import run_trial

    assert gutskin.simulate is simulate
    assert gutskin.get_model is get_model
    assert gutskin.run_trial is run_trial
    assert gutskin.load_design is load_design
    assert gutskin.power_curve is power_curve
    assert gutskin.profile_table is profile_table
    assert gutskin.to_sbml is to_sbml
    assert gutskin.integrate is integrate
    assert gutskin.ModelSpec is ModelSpec
    assert gutskin.__version__ == "0.1.0"


def test_notebook_names_are_exported():
    """Issue 32: what a notebook user needs beside the functions."""
    from gutskin.engine import SolverOptions
    from gutskin.scenario import Scenario
    from gutskin.trial.design import Design
    from gutskin.trial.result import TrialResult

    assert gutskin.SolverOptions is SolverOptions
    assert gutskin.Design is Design
    assert gutskin.Scenario is Scenario
    assert gutskin.TrialResult is TrialResult


def test_no_room_imports_the_package_root():
    """The version lives in gutskin._version: no module imports up to `gutskin` itself."""
    src = Path(gutskin.__file__).parent
    offenders = [
        str(p.relative_to(src))
        for p in src.rglob("*.py")
        if p.name != "__init__.py" or p.parent != src
        if re.search(r"^\s*from gutskin import ", p.read_text(), flags=re.M)
    ]
    assert not offenders, offenders
    pyproject = (src.parents[1] / "pyproject.toml").read_text()
    assert f'version = "{gutskin.__version__}"' in pyproject


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = gutskin.nope  # type: ignore[attr-defined]


def test_readme_python_quickstart_runs(capsys):
    text = README.read_text()
    match = re.search(r"```python\n(.*?)```", text, flags=re.S)
    assert match is not None, "README.md has no ```python block"
    code = match.group(1)
    assert "acne" in code
    namespace: dict[str, object] = {"__name__": "readme_quickstart"}
    exec(compile(code, "README.md", "exec"), namespace)
    ds = namespace["ds"]
    assert ds["status"].sizes["patient"] > 0  # type: ignore[index]
    assert "count" in capsys.readouterr().out
