"""Exams: the catalogue, timed attempts paid in credits, server-side grading, exercises."""
