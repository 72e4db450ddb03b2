"""The SLA engine: pure rules that turn stored facts into clock states and due instants.

Calendars, exclusion windows, plan policies and clock evaluation live here with no I/O and
no clock reads (`now` is always an argument), so the daemon, a recomputation after a window
edit and the tests all derive the same answer from the same facts.
"""
