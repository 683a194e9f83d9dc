"""What a command does, start to end: compile, render, check, secrets, entities, MAAS; one module per kind of work."""
