"""The local provider: a real multi-node cluster as containers on the user's Docker engine.

Each node is a Debian container running sshd and its own dockerd, configured
over SSH by the very bootstrap script EC2 instances run as user-data, so the
local end-to-end tests exercise the AWS bootstrap path (DESIGN section 3).
"""
