"""The sensitivity guide: its generator runs, and the committed guide links existing figures."""

from __future__ import annotations

import re
from pathlib import Path

from gutskin.sensitivity.guide import main

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _links(text: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)


def test_guide_generator_quick(tmp_path):
    doc = tmp_path / "guide.md"
    assert main(["--quick", "--doc", str(doc), "--figures", str(tmp_path / "figures")]) == 0
    text = doc.read_text()
    assert "Quick mode" in text and "## Answer 1" in text and "## Answer 3" in text
    links = _links(text)
    assert len(links) == 5
    for link in links:
        assert (tmp_path / link).exists(), link


def test_committed_guide_is_complete():
    doc = DOCS / "sensitivity-guide.md"
    text = doc.read_text()
    assert "python -m gutskin.sensitivity.guide" in text and "Quick mode" not in text
    for link in _links(text):
        assert (DOCS / link).exists(), link
    for prop in ("engraftment", "bacteriocin", "anti_il8"):
        assert f"`{prop}`" in text
