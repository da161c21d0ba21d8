"""CLI verbs of the runtime (one module each)."""
