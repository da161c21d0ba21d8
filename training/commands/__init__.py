"""CLI verbs of training (one module each); torch is imported inside run()."""
