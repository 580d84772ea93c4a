"""The quickstart: a job registry, a worker factory and a script that runs them end to end."""
