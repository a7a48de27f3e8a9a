"""Identity: users from tokens, roles, student profiles, parents acting for their children."""
