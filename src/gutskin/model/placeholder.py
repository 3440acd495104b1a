"""A four-state toy of the acne loop, kept as a small, fast end-to-end example.

sebum → occlusion → bacteria → inflammation → sebum.  It is *not* the gut–skin
model (see :func:`gutskin.model.acne_model`); it exists so that the engine,
CLI and outputs can be exercised and benchmarked on something tiny.  All
values are illustrative (``assumed``).
"""

from __future__ import annotations

from functools import lru_cache

from gutskin.engine.spec import Assignment, Input, ModelSpec, Parameter, State

_A = "assumed"
_NOTE = "illustrative value for the placeholder model; not calibrated"


@lru_cache(maxsize=1)
def placeholder_model() -> ModelSpec:
    """The placeholder model spec (4 states, 9 parameters, 1 input)."""

    def par(name: str, value: float, unit: str, desc: str, cv: float = 0.2) -> Parameter:
        return Parameter(
            name,
            value,
            unit,
            desc,
            lower=value / 5,
            upper=value * 5,
            cv=cv,
            source=_A,
            confidence=_A,
            note=_NOTE,
        )

    return ModelSpec(
        name="placeholder",
        description="Toy sebum–occlusion–bacteria–inflammation loop (illustrative only).",
        version="1",
        states=[
            State("sebum", "1", "sebum output relative to healthy", 1.0),
            State("occlusion", "1", "fraction of occluded follicles", 0.1),
            State("bacteria", "1", "follicular bacterial load relative to capacity", 0.1),
            State("inflammation", "1", "local inflammation relative units", 0.1),
        ],
        parameters=[
            par("k_sebum", 0.5, "1/day", "sebum production rate"),
            par("a_infl_sebum", 0.5, "1", "inflammation gain on sebum production"),
            par("d_sebum", 0.5, "1/day", "sebum clearance rate"),
            par("k_occl", 0.1, "1/day", "occlusion rate per unit sebum"),
            par("d_occl", 0.05, "1/day", "spontaneous follicle clearing rate"),
            par("r_bact", 0.7, "1/day", "bacterial growth rate"),
            par("kill_treat", 1.0, "1/day", "bacterial kill rate under treatment"),
            par("k_infl", 0.5, "1/day", "inflammation induction by bacteria"),
            par("d_infl", 0.5, "1/day", "inflammation resolution rate"),
        ],
        inputs=[Input("treatment", "1", "antibacterial treatment exposure (1 = on)")],
        assignments=[
            Assignment("capacity", "sebum*occlusion + 0.01", "1", "bacterial carrying capacity"),
            Assignment("lesions", "40*inflammation", "count", "expected inflammatory lesions"),
        ],
        rates={
            "sebum": "k_sebum*(1 + a_infl_sebum*inflammation) - d_sebum*sebum",
            "occlusion": "k_occl*sebum*(1 - occlusion) - d_occl*occlusion",
            "bacteria": "r_bact*bacteria*(1 - bacteria/capacity) - kill_treat*treatment*bacteria",
            "inflammation": "k_infl*bacteria - d_infl*inflammation",
        },
    )
