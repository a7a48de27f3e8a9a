"""ARIA, the AI tutor: subject entitlements from the subscription, answers grounded in the
school's pedagogical content for the student's level, conversations with feedback, a daily
quota, and the public learner-profile widget that captures leads."""
