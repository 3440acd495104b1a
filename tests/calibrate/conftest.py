"""Shared fixtures of the calibration tests: a tiny targets file (fast to simulate)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

TINY = textwrap.dedent(
    """
    schema_version: 1
    designs:
      rinaldi2022: {builtin: rinaldi2022, fit_sample_size: 16}
    fit_parameters: [iso_ed50]
    targets:
    - id: tiny_trial
      group: probiotic_trial
      citation: "Rinaldi F et al. Dermatol Ther (Heidelb) 2022;12:577"
      simulator: trial
      design: rinaldi2022
      arm: botanicals
      endpoint: inflammatory
      visit_week: 8
      statistic: pct_change_of_means
      observed: -40.0
      sd: 5.0
      tolerance: 5.0
      fit: true
    - id: tiny_sebum
      group: relation
      citation: "Stewart ME et al. J Am Acad Dermatol 1983;8:532"
      simulator: cohort
      regimens: [{intervention: isotretinoin, dose: 0.2}]
      weeks: 8
      output: sebum
      n: 10
      statistic: pct_change_of_means
      observed: -50.0
      sd: 2.0
      tolerance: 4.0
      fit: true
    - id: tiny_missing
      group: mechanistic
      citation: "Fabbrocini G et al. Benef Microbes 2016;7:625"
      simulator: not_represented
      reason: "no FOXO1 state"
    """
)


@pytest.fixture()
def tiny_targets(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(TINY)
    return p
