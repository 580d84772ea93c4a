"""Runnable examples of jobqueue."""
