"""smeftfm: a data-versioned SMEFT foundation model for LHC Drell-Yan and the ALETHEIA loop."""

__version__ = "0.1.0"
