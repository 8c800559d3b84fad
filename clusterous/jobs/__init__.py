"""Batch jobs on the cluster's Swarm: many run-to-completion tasks, queued by reservations.

A job is one Swarm service in ``replicated-job`` mode per round (the first
submit, then each ``jobs retry``), all carrying the job's id in their labels,
so every fact about a job lives on the cluster and survives the laptop.
``spec`` turns a request into pure data (the array, the task wrapper, the
labels), ``swarm_jobs`` creates and reads the services, ``listing`` fetches
their tasks in few bytes (``task_lister`` runs on the controller),
``progress`` turns them into per-index rows and counts, ``autoscale`` decides when a
waiting laptop should add or remove nodes.
"""
