"""`cvstream batch`: many inputs through the Message Batches API, followed and resumed from local state.

plan.py (pure: requests, custom ids, splitting), state.py (the job files), submit.py (creating the
batches), follow.py (polling, results -> files), display.py (progress on stderr). The SDK calls are in
`cvstream.source.batches`; the command is `cvstream.commands.batch`.
"""
