"""gan-repro: reproduce and extend Arjovsky & Bottou (ICLR 2017),
'Towards Principled Methods for Training GANs'."""

__version__ = "0.1.0"
