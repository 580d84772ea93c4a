"""The scenarios, in the order they run; each module has `NAME`, `PROMISE` and `run(ctx)`."""
