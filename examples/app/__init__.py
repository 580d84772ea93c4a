"""The example application: the reference's jobs behind a FastAPI (or aiohttp) API.

`python examples/app/run.py` runs it end to end; README.md beside this file walks through it.
"""
