"""Callbacks: the mock POSTs a task to the URL its submit named, when the task ends or on each change.

The flow runs one way. ``engine.callback_request`` reads what a submit asks for (checked against the mock-only
``schemas/mock-callback.json``); ``engine.callback_schedule`` derives, purely from the task's record, the
clock's reading and the seed, which deliveries are due when; ``sender`` is the one scheduler on the event
loop, which sends what is due through ``delivery`` (signed POSTs, bounded, retried) and notes the outcome in
a ledger of ``stores`` (memory, the SQLite file the workers share, or the fleet's Redis). Nothing here
changes a task's state.
"""
