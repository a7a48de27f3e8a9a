"""Certificates: issued once per passed attempt, signed as Open Badges 3.0 credentials, stored as
PDFs in private S3, verifiable by anyone with the code, revocable by an administrator."""
