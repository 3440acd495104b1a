"""A table of hostile and mistaken inputs across the commands.

Every case must: exit 2, print exactly one ``gutskin: error:`` line and no traceback,
write nothing (the work folder holds exactly what it held before), and leave the
user's own files byte for byte as they were.
"""

from __future__ import annotations

import io
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from gutskin.cli import main
from gutskin.trial.design import builtin_designs

SIM = ["simulate", "--scenario", "placeholder-untreated", "--patients", "2", "--days", "3"]
TRIAL_DESIGN = builtin_designs()["probiotic12wk"].read_text()


def _design(text_old: str, text_new: str) -> str:
    assert text_old in TRIAL_DESIGN, text_old
    return TRIAL_DESIGN.replace(text_old, text_new, 1)


def _qza(metadata: str, members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("u1/metadata.yaml", metadata)
        for name, blob in members.items():
            zf.writestr(f"u1/data/{name}", blob)
    return buf.getvalue()


def _qza_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("u1/metadata.yaml", "uuid: u1\ntype: FeatureTable[Frequency]\nformat: X\n")
        zf.writestr("u1/data/feature-table.biom", b"\0" * (20 << 20))  # ~20 kB stored
    return buf.getvalue()


FILES: dict[str, str | bytes] = {
    "keep.txt": "the user's own notes\n",
    "user/notes.md": "do not touch\n",
    "a_file": "x",
    "malformed.yaml": "model: acne\nexposures: [unclosed\n",
    "dup.yaml": "model: placeholder\nmodel: acne\n",
    "big.yaml": "model: placeholder\ndescription: " + "x" * 2_100_000 + "\n",
    "trial_as_scenario.yaml": TRIAL_DESIGN,
    "d_dup.yaml": _design("sample_size: 200", "sample_size: 200\nsample_size: 100"),
    "d_block.yaml": _design(
        "randomization: {method: stratified, strata: [sex]}",
        "randomization: {method: block, block_size: 3}",
    ),
    "d_nan_dose.yaml": _design("dose: 1.0e9", "dose: .nan"),
    "d_neg_dose.yaml": _design("dose: 1.0e9", "dose: -5"),
    "d_huge_dose.yaml": _design("dose: 1.0e9", "dose: 1.0e30"),
    "d_inf_weeks.yaml": _design("duration_weeks: 12", "duration_weeks: .inf"),
    "d_bool_n.yaml": _design("sample_size: 200", "sample_size: true"),
    "d_extra.yaml": _design("sample_size: 200", "sample_size: 200\nsampel_size: 3"),
    "d_long_title.yaml": _design("title: ", "title: " + "T" * 3000 + " "),
    "d_one_visit_late.yaml": _design("visits_weeks: [0, 2, 4, 8, 12]", "visits_weeks: [0, 20]"),
    "d_too_big.yaml": TRIAL_DESIGN + "# " + "y" * 1_100_000 + "\n",
    "d_not_mapping.yaml": "- just\n- a list\n",
    "empty.tsv": "",
    "not_zip.qza": "#OTU ID\ts1\nf1\t3\n",
    "bomb.qza": _qza_bomb(),
    "strains_bad.yaml": "strains:\n  X: {name: [unclosed\n",
    "strains_dup.yaml": "strains:\n  LS03: {default_dose: 1}\n  LS03: {default_dose: 2}\n",
    "model.xml": "<my own model/>",
    # "billion laughs": 1 kB of aliases expanding to 9**7 list items (issue 31)
    "bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{n}: &{n} [{', '.join(['*' + p] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
    ),
    "cycle.yaml": "a: &a [1, *a]\n",
    "fitted_nan.csv": "name,value\ncac_sebum_exponent,nan\n",
    "fitted_huge.csv": "name,value\ncac_sebum_exponent,1e308\n",
    "fitted_unknown.csv": "name,value\nno_such_parameter,1.0\n",
    "qza_meta_list.qza": _qza("- just\n- a list\n", {"feature-table.biom": b"x"}),
    # a large unused member beside no table: refused for the missing table, not inflated
    "qza_unused_bomb.qza": _qza(
        "uuid: u1\ntype: FeatureTable[Frequency]\nformat: X\n", {"junk.bin": b"\0" * (300 << 20)}
    ),
    "huge_count.tsv": "#OTU ID\ts1\ts2\nf1\t1e308\t4\nf2\t5\t1\n",
    "backref_map.csv": "# version: 1\nrank,pattern,site,target,role,source,notes\n"
    "genus,(a)\\1,gut,other,lumped,x,y\n",
    "lookahead_map.csv": "# version: 1\nrank,pattern,site,target,role,source,notes\n"
    "genus,(?=a)a.*,gut,other,lumped,x,y\n",
    "deep.biom": '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "small.tsv": "#OTU ID\ts1\ts2\nf1\t3\t4\nf2\t5\t1\n",
    "small_tax.tsv": "f1\tk__Bacteria; p__Firmicutes; g__Lactobacillus\n"
    "f2\tk__Bacteria; p__Bacteroidota; g__Bacteroides\n",
    "d_age_neg.yaml": _design("age: {min: 12, max: 45}", "age: {min: -50, max: 45}"),
    "d_age_huge.yaml": _design("age: {min: 12, max: 45}", "age: {min: 12, max: 1.0e308}"),
    "d_dispersion.yaml": TRIAL_DESIGN + "measurement: {count_dispersion: 1.0e17}\n",
    "d_tiny_weeks.yaml": _design("duration_weeks: 12", "duration_weeks: 1.0e-300"),
    "d_no_endpoints.yaml": TRIAL_DESIGN + "endpoints: []\n",
    "d_compare_baseline.yaml": _design(
        "{endpoint: inflammatory, method: ancova, visit_week: 12}",
        "{endpoint: inflammatory, method: ancova, visit_week: 0}",
    ),
    "d_everyone_drops.yaml": _design("rate_per_week: 0.015", "rate_per_week: 1.0"),
    "d_only_baseline.yaml": _design("visits_weeks: [0, 2, 4, 8, 12]", "visits_weeks: [0]"),
    "d_iga_range.yaml": _design("iga: {min: 3, max: 4}", "iga: {min: 3, max: 40}"),
    # issue 19: assurance inputs (ensemble CSVs, strain priors)
    "ens_ok.csv": "LS03.engraftment,weight\n0.5,1\n1.5,1\n",
    "ens_text.csv": "gut_skin_gain\nmany\n",
    "ens_ragged.csv": "gut_skin_gain,weight\n1.5\n",
    "ens_unknown.csv": "no_such_parameter\n1.0\n",
    "ens_range.csv": "gut_skin_gain\n99\n",
    "ens_weights0.csv": "gut_skin_gain,weight\n1.5,0\n",
    "ens_header_only.csv": "gut_skin_gain\n",
    "ens_no_columns.csv": "member,weight\na,1\n",
    "strains_prior_wide.yaml": "strains:\n  LS03:\n    properties:\n"
    "      engraftment: {value: 1, prior: [0, 9]}\n",
    "strains_prior_shape.yaml": "strains:\n  LS03:\n    properties:\n"
    "      engraftment: {value: 1, prior: {distribution: normal, lower: 0, upper: 2}}\n",
}

OUT = ["--out", "{d}/out"]

CASES: list[tuple[str, list[str], str]] = [
    # --- simulate: options validated where they are parsed, naming the option
    ("sim-rtol-0", [*SIM, "--rtol", "0", *OUT], "--rtol"),
    ("sim-rtol-neg", [*SIM, "--rtol", "-1e-6", *OUT], "--rtol"),
    ("sim-rtol-nan", [*SIM, "--rtol", "nan", *OUT], "--rtol must be a finite number"),
    ("sim-rtol-10", [*SIM, "--rtol", "10", *OUT], "--rtol must be in"),
    ("sim-rtol-tiny", [*SIM, "--rtol", "1e-30", *OUT], "--rtol must be in"),
    ("sim-atol-0", [*SIM, "--atol", "0", *OUT], "--atol"),
    ("sim-atol-inf", [*SIM, "--atol", "inf", *OUT], "--atol must be a finite number"),
    ("sim-chunk-0", [*SIM, "--chunk-size", "0", *OUT], "--chunk-size"),
    ("sim-chunk-neg", [*SIM, "--chunk-size", "-3", *OUT], "--chunk-size"),
    ("sim-seed-neg", [*SIM, "--seed", "-1", *OUT], "--seed must be an integer"),
    ("sim-seed-huge", [*SIM, "--seed", str(2**64), *OUT], "--seed"),
    ("sim-patients-0", [*SIM, "--patients", "0", *OUT], "--patients"),
    ("sim-patients-huge", [*SIM, "--patients", "10000000", *OUT], "gutskin run"),
    ("sim-days-0", [*SIM, "--days", "0", *OUT], "--days"),
    ("sim-days-inf", [*SIM, "--days", "inf", *OUT], "--days must be a finite number"),
    ("sim-days-nan", [*SIM, "--days", "nan", *OUT], "--days must be a finite number"),
    ("sim-days-huge", [*SIM, "--days", "1e7", *OUT], "--days must be in"),
    ("sim-days-text", [*SIM, "--days", "abc", *OUT], "--days"),
    ("sim-method", [*SIM, "--method", "euler", *OUT], "--method"),
    ("sim-unknown-scenario", ["simulate", "--scenario", "nope", *OUT], "nope"),
    (
        "sim-both",
        ["simulate", "--scenario", "acne-ls03", "--design", "{d}/dup.yaml", *OUT],
        "not both",
    ),
    ("sim-missing-file", ["simulate", "--design", "{d}/missing.yaml", *OUT], "missing.yaml"),
    ("sim-malformed", ["simulate", "--design", "{d}/malformed.yaml", *OUT], "malformed YAML: line"),
    ("sim-dup-key", ["simulate", "--design", "{d}/dup.yaml", *OUT], "duplicate key 'model'"),
    ("sim-big-file", ["simulate", "--design", "{d}/big.yaml", *OUT], "refused"),
    (
        "sim-trial-design",
        ["simulate", "--design", "{d}/trial_as_scenario.yaml", *OUT],
        "gutskin trial",
    ),
    ("sim-out-user-folder", [*SIM, "--out", "{d}/user"], "not empty"),
    ("sim-out-user-overwrite", [*SIM, "--out", "{d}/user", "--overwrite"], "not empty"),
    ("sim-out-is-file", [*SIM, "--out", "{d}/a_file"], "is a file"),
    ("sim-out-below-file", [*SIM, "--out", "{d}/a_file/sub"], "is a file, not a folder"),
    ("sim-out-cwd", [*SIM, "--out", "."], "not empty"),
    ("sim-unknown-option", [*SIM, "--bogus", "1", *OUT], "--bogus"),
    (
        "run-seed-neg",
        ["run", "--scenario", "acne-ls03", "--patients", "3", "--seed", "-1", *OUT],
        "--seed must be an integer",
    ),
    ("run-patients-huge", ["run", "--patients", str(10**12), *OUT], "--patients"),
    # --- trial
    ("trial-seed-neg", ["trial", "rinaldi2022", "--seed", "-1", *OUT], "--seed must be an integer"),
    ("trial-unknown", ["trial", "no-such-design", *OUT], "neither a file nor a built-in"),
    ("trial-malformed", ["trial", "{d}/malformed.yaml", *OUT], "malformed YAML"),
    ("trial-dup-key", ["trial", "{d}/d_dup.yaml", *OUT], "duplicate key 'sample_size'"),
    ("trial-block-size", ["trial", "{d}/d_block.yaml", *OUT], "block_size: 3 is not a multiple"),
    ("trial-nan-dose", ["trial", "{d}/d_nan_dose.yaml", *OUT], "finite number"),
    ("trial-neg-dose", ["trial", "{d}/d_neg_dose.yaml", *OUT], "arms.1.regimens.0.dose"),
    ("trial-huge-dose", ["trial", "{d}/d_huge_dose.yaml", *OUT], "arms.1.regimens.0.dose"),
    ("trial-inf-weeks", ["trial", "{d}/d_inf_weeks.yaml", *OUT], "finite number"),
    ("trial-bool-n", ["trial", "{d}/d_bool_n.yaml", *OUT], "sample_size"),
    ("trial-extra-key", ["trial", "{d}/d_extra.yaml", *OUT], "sampel_size"),
    ("trial-long-title", ["trial", "{d}/d_long_title.yaml", *OUT], "title"),
    ("trial-late-visit", ["trial", "{d}/d_one_visit_late.yaml", *OUT], "after the end"),
    ("trial-file-too-big", ["trial", "{d}/d_too_big.yaml", *OUT], "refused"),
    ("trial-not-mapping", ["trial", "{d}/d_not_mapping.yaml", *OUT], "mapping"),
    ("trial-rtol-0", ["trial", "rinaldi2022", "--rtol", "0", *OUT], "--rtol"),
    ("trial-atol-nan", ["trial", "rinaldi2022", "--atol", "nan", *OUT], "--atol"),
    ("trial-out-user", ["trial", "rinaldi2022", "--out", "{d}/user"], "not empty"),
    ("trial-out-cwd", ["trial", "rinaldi2022", "--out", "."], "not empty"),
    # --- power
    ("power-n-huge", ["power", "probiotic12wk", "--n", "1000000000", *OUT], "--n must be in"),
    ("power-n-small", ["power", "probiotic12wk", "--n", "1", *OUT], "--n"),
    ("power-n-text", ["power", "probiotic12wk", "--n", "abc", *OUT], "--n"),
    ("power-replicates-0", ["power", "probiotic12wk", "--replicates", "0", *OUT], "--replicates"),
    ("power-target-big", ["power", "probiotic12wk", "--target", "1.5", *OUT], "--target"),
    ("power-target-nan", ["power", "probiotic12wk", "--target", "nan", *OUT], "--target"),
    ("power-workers-0", ["power", "probiotic12wk", "--workers", "0", *OUT], "--workers"),
    ("power-seed-neg", ["power", "probiotic12wk", "--seed", "-1", *OUT], "--seed"),
    ("power-unknown", ["power", "nope", *OUT], "neither a file nor a built-in"),
    ("power-out-user", ["power", "probiotic12wk", "--out", "{d}/user"], "not empty"),
    # --- profile (microbiome tables)
    ("profile-not-zip-qza", ["profile", "{d}/not_zip.qza", *OUT], "must be a zip archive"),
    ("profile-zip-bomb", ["profile", "{d}/bomb.qza", *OUT], "refused"),
    ("profile-missing", ["profile", "{d}/none.tsv", *OUT], "no such"),
    ("profile-empty", ["profile", "{d}/empty.tsv", *OUT], "empty"),
    # --- strains, params, designs, export
    ("strains-malformed", ["strains", "--file", "{d}/strains_bad.yaml"], "malformed YAML"),
    ("strains-dup", ["strains", "--file", "{d}/strains_dup.yaml"], "duplicate key 'LS03'"),
    ("strains-missing", ["strains", "--file", "{d}/none.yaml"], "cannot read"),
    ("params-format", ["params", "--format", "xml"], "--format"),
    ("designs-show-unknown", ["designs", "show", "nope"], "unknown design"),
    ("export-sbml-existing", ["export", "sbml", "--out", "{d}/model.xml"], "--overwrite"),
    ("export-sbml-folder", ["export", "sbml", "--out", "{d}/user"], "is a folder"),
    ("export-petab-user", ["export", "petab", "--out", "{d}/user"], "not empty"),
    # --- sensitivity
    ("sens-method", ["sensitivity", "--method", "nope", "--outcome", "papules", *OUT], "nope"),
    ("sens-seed", ["sensitivity", "--outcome", "papules", "--seed", "-1", *OUT], "--seed"),
    ("sens-rtol", ["sensitivity", "--outcome", "papules", "--rtol", "0", *OUT], "--rtol"),
    ("sens-out-user", ["sensitivity", "--outcome", "papules", "--out", "{d}/user"], "not empty"),
    # --- issue 31: alias bombs and unbounded reads (st_size is 0 for /dev/zero)
    ("trial-alias-bomb", ["trial", "{d}/bomb.yaml", *OUT], "aliases expand"),
    ("trial-alias-cycle", ["trial", "{d}/cycle.yaml", *OUT], "cycle"),
    ("trial-dev-zero", ["trial", "/dev/zero", *OUT], "refused"),
    ("power-dev-zero", ["power", "/dev/zero", *OUT], "refused"),
    ("strains-alias-bomb", ["strains", "--file", "{d}/bomb.yaml"], "aliases expand"),
    ("strains-dev-zero", ["strains", "--file", "/dev/zero"], "refused"),
    (
        "sens-factors-bomb",
        ["sensitivity", "--outcome", "papules", "--factors", "{d}/bomb.yaml", *OUT],
        "aliases expand",
    ),
    (
        "sens-factors-dev-zero",
        ["sensitivity", "--outcome", "papules", "--factors", "/dev/zero", *OUT],
        "refused",
    ),
    (
        "sim-scenario-bomb",
        ["simulate", "--design", "{d}/bomb.yaml", "--patients", "2", *OUT],
        "aliases expand",
    ),
    ("trial-design-folder", ["trial", "{d}/user", *OUT], "folder"),
    ("calibrate-seed-neg", ["calibrate", "--seed", "-1", *OUT], "--seed"),
    ("profile-seed-neg", ["profile", "{d}/empty.tsv", "--seed", "-1", *OUT], "--seed"),
    # --- issue 31: every numeric design field bounded; unanalysable designs refused on load
    ("trial-age-neg", ["trial", "{d}/d_age_neg.yaml", *OUT], "population.age"),
    ("trial-age-huge", ["trial", "{d}/d_age_huge.yaml", *OUT], "population.age"),
    ("trial-dispersion", ["trial", "{d}/d_dispersion.yaml", *OUT], "count_dispersion"),
    ("trial-tiny-weeks", ["trial", "{d}/d_tiny_weeks.yaml", *OUT], "duration_weeks"),
    ("trial-no-endpoints", ["trial", "{d}/d_no_endpoints.yaml", *OUT], "endpoints"),
    ("trial-compare-baseline", ["trial", "{d}/d_compare_baseline.yaml", *OUT], "baseline"),
    ("trial-everyone-drops", ["trial", "{d}/d_everyone_drops.yaml", *OUT], "rate_per_week"),
    ("trial-only-baseline", ["trial", "{d}/d_only_baseline.yaml", *OUT], "post-baseline"),
    ("trial-iga-range", ["trial", "{d}/d_iga_range.yaml", *OUT], "inclusion.iga"),
    ("petab-fitted-nan", ["export", "petab", "--fitted", "{d}/fitted_nan.csv", *OUT], "finite"),
    ("petab-fitted-huge", ["export", "petab", "--fitted", "{d}/fitted_huge.csv", *OUT], "finite"),
    (
        "petab-fitted-unknown",
        ["export", "petab", "--fitted", "{d}/fitted_unknown.csv", *OUT],
        "not a parameter",
    ),
    ("petab-fitted-dev-zero", ["export", "petab", "--fitted", "/dev/zero", *OUT], "not a file"),
    (
        "run-dask-unreachable",
        [
            "run",
            "--scenario",
            "placeholder-untreated",
            "--patients",
            "10",
            "--scheduler",
            "dask",
            "--address",
            "tcp://127.0.0.1:1",
            *OUT,
        ],
        "cannot reach the Dask scheduler",
    ),
    (
        "run-dask-bad-address",
        [
            "run",
            "--scenario",
            "placeholder-untreated",
            "--patients",
            "10",
            "--scheduler",
            "dask",
            "--address",
            "tcp://nohost",
            *OUT,
        ],
        "HOST:PORT",
    ),
    (
        "run-days-huge",
        ["run", "--scenario", "placeholder-untreated", "--days", "1e9", *OUT],
        "--days",
    ),
    (
        "run-days-nan",
        ["run", "--scenario", "placeholder-untreated", "--days", "nan", *OUT],
        "--days",
    ),
    (
        "sens-samples-huge",
        ["sensitivity", "--outcome", "papules", "--samples", "100000000", *OUT],
        "--samples",
    ),
    ("power-workers-huge", ["power", "probiotic12wk", "--workers", "100000", *OUT], "--workers"),
    ("profile-qza-meta-list", ["profile", "{d}/qza_meta_list.qza", *OUT], "mapping"),
    ("profile-qza-unused-member", ["profile", "{d}/qza_unused_bomb.qza", *OUT], "feature-table"),
    ("profile-dev-zero", ["profile", "/dev/zero", *OUT], "not a regular file"),
    (
        "profile-taxonomy-dev-zero",
        ["profile", "{d}/small.tsv", "--taxonomy", "/dev/zero", *OUT],
        "not a regular file",
    ),
    (
        "profile-guild-map-backreference",
        [
            "profile",
            "{d}/small.tsv",
            "--taxonomy",
            "{d}/small_tax.tsv",
            "--guild-map",
            "{d}/backref_map.csv",
            *OUT,
        ],
        "backreferences and lookaround are not supported",
    ),
    (
        "profile-guild-map-lookahead",
        [
            "profile",
            "{d}/small.tsv",
            "--taxonomy",
            "{d}/small_tax.tsv",
            "--guild-map",
            "{d}/lookahead_map.csv",
            *OUT,
        ],
        "linear-time matcher",
    ),
    ("profile-deep-biom-json", ["profile", "{d}/deep.biom", *OUT], "nested too deeply"),
    ("profile-huge-count", ["profile", "{d}/huge_count.tsv", *OUT], "larger than"),
    # --- issue 33: power's new options
    ("power-pool-text", ["power", "probiotic12wk", "--pool", "many", *OUT], "--pool"),
    ("power-pool-0", ["power", "probiotic12wk", "--pool", "0", *OUT], "--pool"),
    ("power-analyses", ["power", "probiotic12wk", "--analyses", "some", *OUT], "--analyses"),
    # --- session 7: scheduler, solver and size options of every command
    ("power-scheduler", ["power", "probiotic12wk", "--scheduler", "spark", *OUT], "--scheduler"),
    (
        "power-address-without-dask",
        ["power", "probiotic12wk", "--address", "tcp://127.0.0.1:1", *OUT],
        "needs --scheduler dask",
    ),
    (
        "power-dask-unreachable",
        ["power", "probiotic12wk", "--scheduler", "dask", "--address", "tcp://127.0.0.1:1", *OUT],
        "cannot reach",
    ),
    (
        "power-dask-bad-address",
        ["power", "probiotic12wk", "--scheduler", "dask", "--address", "tcp://nohostport", *OUT],
        "HOST:PORT",
    ),
    ("power-rtol-0", ["power", "probiotic12wk", "--rtol", "0", *OUT], "rtol"),
    ("power-method", ["power", "probiotic12wk", "--method", "euler", *OUT], "--method"),
    ("profile-rtol-0", ["profile", "{d}/small.tsv", "--rtol", "0", *OUT], "rtol"),
    ("profile-atol-nan", ["profile", "{d}/small.tsv", "--atol", "nan", *OUT], "atol"),
    ("profile-method", ["profile", "{d}/small.tsv", "--method", "rk4", *OUT], "--method"),
    ("sim-rtol-big", ["simulate", "--rtol", "0.5", *OUT], "rtol"),
    ("run-scheduler", ["run", "--patients", "10", "--scheduler", "spark", *OUT], "--scheduler"),
    ("run-workers-no-dask", ["run", "--patients", "10", "--workers", "2", *OUT], "--workers"),
    ("run-days-0", ["run", "--patients", "10", "--days", "0", *OUT], "--days"),
    ("run-patients-0", ["run", "--patients", "0", *OUT], "--patients"),
    ("run-seed-huge", ["run", "--patients", "10", "--seed", str(2**64), *OUT], "seed"),
    ("run-rtol-0", ["run", "--patients", "10", "--rtol", "0", *OUT], "rtol"),
    ("run-method", ["run", "--patients", "10", "--method", "euler", *OUT], "--method"),
    ("calibrate-rtol-0", ["calibrate", "--rtol", "0", *OUT], "rtol"),
    ("calibrate-method", ["calibrate", "--method", "euler", *OUT], "--method"),
    ("calibrate-budget-0", ["calibrate", "--budget", "0", *OUT], "--budget"),
    ("calibrate-replicates-neg", ["calibrate", "--replicates", "-1", *OUT], "--replicates"),
    ("calibrate-pool-small", ["calibrate", "--replicates", "2", "--pool", "5", *OUT], "--pool"),
    ("calibrate-groups-alone", ["calibrate", "--groups", "sebaceous", *OUT], "--replicates"),
    (
        "calibrate-groups-unknown",
        ["calibrate", "--replicates", "2", "--groups", "nope", *OUT],
        "--groups",
    ),
    ("sens-atol-nan", ["sensitivity", "--outcome", "papules@28", "--atol", "nan", *OUT], "atol"),
    ("sens-cohort-1", ["sensitivity", "--outcome", "papules@28", "--cohort", "1", *OUT], "cohort"),
    (
        "sens-samples-0",
        ["sensitivity", "--outcome", "papules@28", "--samples", "0", *OUT],
        "--samples",
    ),
    ("sens-bad-outcome", ["sensitivity", "--outcome", "no_such_thing@28", *OUT], "no_such_thing"),
    (
        "sens-bad-design",
        ["sensitivity", "--outcome", "papules@28", "--design", "nope", *OUT],
        "nope",
    ),
    ("trial-method", ["trial", "rinaldi2022", "--method", "euler", *OUT], "--method"),
    ("trial-atol-big", ["trial", "rinaldi2022", "--atol", "1", *OUT], "atol"),
    ("power-atol-0", ["power", "probiotic12wk", "--atol", "0", *OUT], "atol"),
    ("calibrate-seed-huge", ["calibrate", "--seed", str(2**64), *OUT], "seed"),
    ("trial-seed-huge", ["trial", "rinaldi2022", "--seed", str(2**64), *OUT], "seed"),
]

# --- issue 19: power --uncertainty (assurance)
UNC = ["power", "probiotic12wk", "--uncertainty"]
CASES += [
    ("assure-unknown-param", [*UNC, "prior", "--parameters", "nope", *OUT], "unknown parameter"),
    (
        "assure-slot-param",
        [*UNC, "prior", "--parameters", "pb1_engraftment", *OUT],
        "LS03.engraftment",
    ),
    (
        "assure-strain-not-in-design",
        [*UNC, "prior", "--parameters", "BR03.engraftment", *OUT],
        "in no arm of the design",
    ),
    ("assure-empty-params", [*UNC, "prior", "--parameters", ",", *OUT], "--parameters"),
    ("assure-draws-0", [*UNC, "prior", "--draws", "0", *OUT], "--draws must be in"),
    ("assure-draws-huge", [*UNC, "prior", "--draws", "10000000", *OUT], "--draws must be in"),
    ("assure-draws-text", [*UNC, "prior", "--draws", "abc", *OUT], "--draws"),
    ("assure-draws-alone", ["power", "probiotic12wk", "--draws", "5", *OUT], "needs --uncertainty"),
    (
        "assure-strains-alone",
        ["power", "probiotic12wk", "--strains", "{d}/strains_dup.yaml", *OUT],
        "needs --uncertainty",
    ),
    ("assure-missing-file", [*UNC, "{d}/missing.csv", *OUT], "is not a file"),
    ("assure-file-text", [*UNC, "{d}/ens_text.csv", *OUT], "expected a finite number"),
    ("assure-file-ragged", [*UNC, "{d}/ens_ragged.csv", *OUT], "fields, the header has"),
    ("assure-file-unknown", [*UNC, "{d}/ens_unknown.csv", *OUT], "unknown parameter"),
    ("assure-file-range", [*UNC, "{d}/ens_range.csv", *OUT], "outside the allowed range"),
    ("assure-file-weights0", [*UNC, "{d}/ens_weights0.csv", *OUT], "weights sum to 0"),
    ("assure-file-header-only", [*UNC, "{d}/ens_header_only.csv", *OUT], "no rows"),
    ("assure-file-no-columns", [*UNC, "{d}/ens_no_columns.csv", *OUT], "no parameter columns"),
    ("assure-file-empty", [*UNC, "{d}/empty.tsv", *OUT], "is empty"),
    (
        "assure-file-draws",
        [*UNC, "{d}/ens_ok.csv", "--draws", "5", *OUT],
        "--draws must be in 1..2",
    ),
    (
        "assure-file-parameters",
        [*UNC, "{d}/ens_ok.csv", "--parameters", "gut_skin_gain", *OUT],
        "--parameters is for",
    ),
    ("assure-pool-fresh", [*UNC, "prior", "--pool", "fresh", *OUT], "--pool fresh"),
    (
        "assure-strains-wide-prior",
        [*UNC, "prior", "--strains", "{d}/strains_prior_wide.yaml", *OUT],
        "outside the allowed range",
    ),
    (
        "assure-strains-prior-shape",
        [*UNC, "prior", "--strains", "{d}/strains_prior_shape.yaml", *OUT],
        "distribution must be one of",
    ),
    (
        "assure-strains-malformed",
        [*UNC, "prior", "--strains", "{d}/strains_bad.yaml", *OUT],
        "--strains",
    ),
    ("assure-out-user", [*UNC, "prior", "--out", "{d}/user"], "not empty"),
]
if not (resources.files("gutskin.calibrate") / "data" / "ensemble.csv").is_file():
    # until issue 30 packages the calibrated ensemble
    CASES.append(("assure-calibrated-missing", [*UNC, "calibrated", *OUT], "not available yet"))


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    } | {p.relative_to(folder).as_posix() + "/": b"" for p in folder.rglob("*") if p.is_dir()}


@pytest.fixture
def work(tmp_path, monkeypatch):
    d = tmp_path / "work"
    for name, content in FILES.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    monkeypatch.chdir(d)
    return d


def test_the_table_is_large_enough():
    assert len(CASES) >= 150
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "args", "expect"), CASES, ids=[c[0] for c in CASES])
def test_hostile_input_is_refused_cleanly(work, capsys, name, args, expect):
    before = _snapshot(work)
    argv = [a.replace("{d}", str(work)) for a in args]
    rc = main(argv)
    captured = capsys.readouterr()
    err_lines = [ln for ln in captured.err.splitlines() if ln.strip()]
    assert rc == 2, (name, captured.err)
    assert "Traceback" not in captured.err + captured.out
    errors = [ln for ln in err_lines if ln.startswith("gutskin: error:")]
    assert len(errors) == 1, (name, err_lines)
    assert expect in errors[0], (name, errors[0])
    assert _snapshot(work) == before, f"{name}: the work folder changed"
    assert not list(work.parent.glob(".*partial*")), name


def test_error_lines_never_carry_control_characters(capsys):
    """Issue 31: an escape sequence or bell from an input file is shown escaped."""
    from gutskin.cli.app import print_error

    print_error("sample \x1b[31mred\x07 and\nnext line")
    err = capsys.readouterr().err
    assert err == "gutskin: error: sample \\x1b[31mred\\x07 and next line\n"
    assert "\x1b" not in err and "\x07" not in err
