"""eks-guardrail: watch Amazon EKS access-entry changes and enforce organisation rules.

Nothing here runs at import time: no clients, no environment reads, no network.
"""

__version__ = "0.1.0"
