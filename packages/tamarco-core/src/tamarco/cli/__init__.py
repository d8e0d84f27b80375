"""The ``tamarco`` command line."""
