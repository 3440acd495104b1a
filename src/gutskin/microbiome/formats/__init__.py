"""Microbiome input formats, one module per family; :mod:`gutskin.microbiome.readers` dispatches.

- :mod:`~gutskin.microbiome.formats.common` — :class:`TableError`, :class:`FeatureTable`,
  size bounds, sniffing and validation.
- :mod:`~gutskin.microbiome.formats.biom` — BIOM 1.0 JSON / 2.x HDF5 (biom-format).
- :mod:`~gutskin.microbiome.formats.tsv` — QIIME 1 classic and plain TSV, CSV.
- :mod:`~gutskin.microbiome.formats.qza` — QIIME 2 artifacts.
- :mod:`~gutskin.microbiome.formats.metadata` — sample metadata and sample selection.
"""
