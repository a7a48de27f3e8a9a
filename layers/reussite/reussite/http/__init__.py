"""The shared handler kit for HTTP functions: app factory, problem+json, the caller's identity.

This package adapts the domain to FastAPI/Mangum; the domain packages never import it.
"""
