"""Fits of Wilson coefficients to published Drell-Yan measurements (data in ``data/measurements/``)."""
