"""reussite: the shared domain layer (ledger, exams, certificates, payments, bilans, identity...)."""

__version__ = "0.1.0"
