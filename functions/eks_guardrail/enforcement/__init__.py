"""Acting on findings: rollbacks (one module each), lockout protection, the enforcer."""
