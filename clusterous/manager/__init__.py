"""The provider-agnostic cluster manager: plan, apply, ledger, readiness, teardown."""
