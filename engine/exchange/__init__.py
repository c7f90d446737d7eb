"""The MS Exchange extension module: mailbox backends (EWS, Graph), reconciliation, runs."""
