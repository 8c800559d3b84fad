"""The AWS EC2 provider: clusters made of a VPC, EC2 instances, a gp3 volume and an IAM role.

It drives the boto3 wrapper in ``clusterous.aws`` (the only code that talks
to boto3: ec2, iam, pricing, tags); ``provider`` implements the Provider
interface with it, ``sweep`` tears a cluster down and ``volumes`` finds the
kept shared volumes. Everything here is imported only when an AWS profile is
used: boto3 stays out of ``--help``.
"""
