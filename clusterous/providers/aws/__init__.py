"""The AWS EC2 provider: clusters made of a VPC, EC2 instances, a gp3 volume and an IAM role.

It drives the boto3 wrapper in ``clusterous.aws`` (the only code that talks to
boto3). ``provider`` implements the Provider interface; ``network`` is the
cluster's network model, ``launch`` turns node requests into EC2 launches
(user-data, markets, zones), ``adopt`` rebuilds a ledger from tags, ``volumes``
the kept shared volumes, and ``sweep`` the teardown phases. Everything here is
imported only when an AWS profile is used: boto3 stays out of ``--help``.
"""
