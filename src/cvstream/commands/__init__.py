"""One module per command: its arguments -> inputs, settings and an output mode; nothing else.

Each module is imported at startup to build the app, so it imports nothing heavy at module level.
"""
