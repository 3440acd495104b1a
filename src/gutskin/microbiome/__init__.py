"""Microbiome tables in: reading BIOM/TSV/qza, alpha diversity, taxonomy → model guilds.

- :func:`read_table`, :func:`read_taxonomy`, :func:`read_metadata`, :func:`read_tree` —
  inputs as researchers hold them (BIOM 1.0/2.x, QIIME 1 TSV, TSV/CSV, QIIME 2 ``.qza``).
- :func:`alpha_diversity_table`, :func:`rarefy` — diversity per sample (scikit-bio).
- :func:`load_guild_map`, :func:`assign_features`, :func:`guild_fractions`,
  :func:`dysbiosis_index` — the model's guilds and the gut dysbiosis index.
- :func:`profile_table`, :func:`population_from_table`, :func:`simulate_samples` — profiles
  and personalised virtual patients.

See ``docs/microbiome.md``.
"""

from gutskin.microbiome.diversity import METRICS, alpha_diversity_table, rarefy
from gutskin.microbiome.guilds import (
    GUT_GUILDS,
    SKIN_ORGANISMS,
    assign_features,
    dysbiosis_index,
    guild_fractions,
    gut_steady_state,
    load_guild_map,
    parse_lineage,
)
from gutskin.microbiome.population import (
    TablePopulation,
    population_for_design,
    population_from_table,
)
from gutskin.microbiome.profile import Profile, profile_table
from gutskin.microbiome.readers import (
    FeatureTable,
    TableError,
    read_metadata,
    read_table,
    read_taxonomy,
    read_tree,
    select_samples,
)
from gutskin.microbiome.simulate import simulate_samples

__all__ = [
    "GUT_GUILDS",
    "METRICS",
    "SKIN_ORGANISMS",
    "FeatureTable",
    "Profile",
    "TableError",
    "TablePopulation",
    "alpha_diversity_table",
    "assign_features",
    "dysbiosis_index",
    "guild_fractions",
    "gut_steady_state",
    "load_guild_map",
    "parse_lineage",
    "population_for_design",
    "population_from_table",
    "profile_table",
    "rarefy",
    "read_metadata",
    "read_table",
    "read_taxonomy",
    "read_tree",
    "select_samples",
    "simulate_samples",
]
