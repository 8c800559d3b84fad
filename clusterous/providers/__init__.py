"""Providers: where a cluster's machines come from (AWS EC2 or the local Docker engine).

Each provider implements the small interface in ``base``; the cluster manager
drives it and nothing above it knows which one is in use (DESIGN section 1).
"""
