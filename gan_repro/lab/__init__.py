"""The theory lab: the paper's theorems checked numerically on problems where every quantity is known.

Each experiment (`experiment=lab_*`, settings under `lab:`) writes CSVs, a figure drawn from them alone
(gan_repro.lab.figures) and a summary.json with its measured values and claims.
"""
