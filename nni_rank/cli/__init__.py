"""The ``nni-rank`` command line."""
