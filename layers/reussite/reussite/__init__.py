"""reussite: the shared domain layer (identity, ledger, exams, certificates, payments...)."""

__version__ = "0.1.0"
