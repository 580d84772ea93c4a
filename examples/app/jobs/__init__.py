"""The app's jobs: `types` (what producers import), one module per handler, and `registry`."""
