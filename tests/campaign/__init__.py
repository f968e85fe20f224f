"""Helpers of the reliability campaign (tests/test_campaign.py, test_concurrency.py,
test_bad_input.py): scripts run as real subprocesses, steps that loky workers import, and a
tally of the faults injected."""
