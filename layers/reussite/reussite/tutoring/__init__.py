"""Live tutoring: coaches, service types, bookings paid in credits, cancellations, reminders."""
