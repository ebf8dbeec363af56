"""The simulator: traffic with every kind of failure, then a report of the invariants it must leave true.

``plan`` decides the commands from the seed; ``faults`` switches the failure rules and
sends duplicates and undecodable records; ``runner`` sends the plan and waits for the
sagas to settle; ``report`` checks the invariants. ``manage.py simulate`` is the
terminal's way in; the run command starts it at a gentle rate for the demo.
"""
