"""Reporting: what compare.py and `compare.py report` make of the records once the backends have
written them. Nothing here runs in a backend process, and the core of shared/ (data, batch plan,
config, schedule, architectures, record schema, run folder, bench rules) never imports it.

- tables.py: the side-by-side tables of a run, of seeds and of a bench, the parity verdicts,
  summary.csv;
- stats.py: Welch's interval over seeds, behind the verdict of --seeds 2 or more;
- figures.py: the report's PNG figures (matplotlib);
- command.py: `compare.py report`, REPORT.md from every stored run.
"""
