"""Fixtures of the microbiome tests (tables are built by ``mb_tables``)."""

from pathlib import Path

import pytest
from mb_tables import METADATA, write_classic


@pytest.fixture
def metadata_file(tmp_path: Path) -> Path:
    p = tmp_path / "map.txt"
    p.write_text(METADATA)
    return p


@pytest.fixture
def classic_table(tmp_path: Path) -> Path:
    return write_classic(tmp_path / "otu_table.txt")
