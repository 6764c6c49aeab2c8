"""The REST layer: one thin router per resource, mounted in main.py."""
