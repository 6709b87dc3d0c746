"""Registry: companies, guards, employment, checks, bans, lists and the audit log.

The bottom layer of guardreg: it imports none of the other packages.
"""
