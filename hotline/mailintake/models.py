"""mailintake models."""
