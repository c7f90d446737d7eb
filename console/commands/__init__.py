"""The verbs of the ``msext`` command line, one module per verb group."""
