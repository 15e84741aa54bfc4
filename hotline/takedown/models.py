"""takedown models."""
