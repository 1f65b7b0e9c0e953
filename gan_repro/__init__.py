"""gan-repro: reproduce and extend Arjovsky & Bottou (ICLR 2017),
'Towards Principled Methods for Training GANs'.

From Python or a notebook: `from gan_repro import api` (api.run, api.load_run, api.load_sweep; it is not
imported here, so `import gan_repro` stays light)."""

__version__ = "0.1.0"
