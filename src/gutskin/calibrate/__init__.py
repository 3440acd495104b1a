"""Calibration of the acne model to published trials, and its validation report.

- :mod:`gutskin.calibrate.targets`: the targets file (published values with citations and
  uncertainty);
- :mod:`gutskin.calibrate.objective`: each target simulated through the trial machinery on
  common random numbers, and the uncertainty-weighted objective;
- :mod:`gutskin.calibrate.fit`: global fit (differential evolution + Nelder-Mead) in log
  space, objective slices for identifiability;
- :mod:`gutskin.calibrate.validate`: ``docs/validation.md`` (entry point), from the replicate
  simulations of :mod:`~gutskin.calibrate.replicates`, the verdicts of
  :mod:`~gutskin.calibrate.checks` and the Markdown and figures of
  :mod:`~gutskin.calibrate.report`;
- :mod:`gutskin.calibrate.petab_export`: the PEtab problem.
"""
