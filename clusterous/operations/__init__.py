"""Use cases: what each command does, with its policies; the CLI parses, calls one, renders."""
