"""Orientation reports (bilans): a questionnaire, then a report written in three passes by a
queue worker through a pluggable writer (offline by default, Gemini or OpenAI)."""
