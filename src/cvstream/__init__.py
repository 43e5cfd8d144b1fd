"""cvstream: stream Claude completions into a terminal and into other programs."""

__version__ = "0.1.0"
