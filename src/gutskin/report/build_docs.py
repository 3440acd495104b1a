"""Regenerate ``docs/model.md`` and ``docs/figures/causal_diagram.png`` from the model spec.

Run ``make docs`` (``python -m gutskin.report.build_docs``); ``tests/test_docs.py``
fails when the checked-in document differs from what this produces.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from gutskin.report.model_doc import draw_causal_diagram, render_model_markdown

__all__ = ["DOCS", "main", "model_markdown"]

DOCS = Path(__file__).resolve().parents[3] / "docs"
DIAGRAM = "figures/causal_diagram.png"


def _row(obj: Any) -> dict[str, Any]:
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    return dict(vars(obj))


def _interventions() -> list[dict[str, Any]]:
    from gutskin.model.interventions import intervention_table

    return [{str(k): v for k, v in r.items()} for r in intervention_table().to_dict("records")]


def _strains() -> list[dict[str, Any]]:
    from gutskin.model.strains import load_strains

    rows = []
    for sid, strain in load_strains().items():
        d = _row(strain)
        props = d.get("properties", {})
        row: dict[str, Any] = {"strain": sid, "name": d.get("name", "")}
        for k, v in props.items():
            row[k] = v.get("value") if isinstance(v, dict) else v
        row["source"] = d.get("source", "")
        rows.append(row)
    return rows


def _groups(spec: Any) -> dict[str, str]:
    return dict(spec.metadata.get("compartments", {}))


def model_markdown() -> str:
    """The text of docs/model.md for the current acne model."""
    from gutskin.model import acne_model

    spec = acne_model()
    return render_model_markdown(
        spec, diagram=DIAGRAM, interventions=_interventions(), strains=_strains()
    )


def main() -> int:
    """Write docs/model.md and the causal diagram."""
    from gutskin.model import acne_model

    spec = acne_model()
    draw_causal_diagram(spec, DOCS / DIAGRAM, groups=_groups(spec))
    (DOCS / "model.md").write_text(model_markdown())
    print(f"wrote {DOCS / 'model.md'} and {DOCS / DIAGRAM}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
