"""Spreadsheet-safe CSV text cells (CSV/formula injection).

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets when the CSV is opened. Text from a
user's input files (sample IDs, metadata) is written with a leading apostrophe in such
cells, which spreadsheets show as text; numbers are never changed. OWASP, "CSV Injection"
(https://owasp.org/www-community/attacks/CSV_Injection).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "safe_cell", "spreadsheet_safe"]

#: First characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text that starts like a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, index and column names are formula-safe."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(safe_cell)
    out.index = out.index.map(safe_cell)
    out.columns = [safe_cell(c) for c in out.columns]
    return out
