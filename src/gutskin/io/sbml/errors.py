"""The error of the SBML export, and the check on libSBML's return codes."""

from __future__ import annotations

import libsbml

__all__ = ["SBMLExportError"]


class SBMLExportError(ValueError):
    """The spec or the per-patient arguments cannot be exported; the message says why."""


def _ok(code: int, what: str) -> None:
    if code != libsbml.LIBSBML_OPERATION_SUCCESS:
        raise SBMLExportError(
            f"libsbml rejected {what}: {libsbml.OperationReturnValue_toString(code)}"
        )
