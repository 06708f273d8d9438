"""Building blocks of the guardrail stacks."""
