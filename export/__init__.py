"""Deployment tools over keras_dl.export, installed as `keras_dl.deploy` (`python -m export.NAME` in a checkout)."""
