"""Worker modules that tests run as real `taskiq worker` subprocesses."""
