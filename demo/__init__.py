"""The local demo around the product: a process supervisor for `make run` and a webhook receiver.

Development tooling only: never imported by the product (`config`, the apps).
"""
