"""Import/export of models in exchange formats (SBML)."""
