"""Exam sessions for schools (WSET-style): qualifications as data, exam sessions with a
capacity, registrations (bundled, makeup, resit, remote invigilation, standalone), results per
component, outcomes, and result enquiries."""
