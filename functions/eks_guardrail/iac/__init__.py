"""`eks-guardrail iac`: judge planned infrastructure (Terraform plans, CloudFormation templates,
CDK output) with the guardrail's own rules, before anything is applied.

One module per input format turns its resources into `PlannedResource`s: the typed changes
the event path builds (`changes.py`), or the fields whose values are not known yet.
`judging.py` runs the engine on them; `sarif.py` adds where each finding is in the file.
"""

from .judging import IacReport, judge_paths
from .resources import PlannedResource

__all__ = ["IacReport", "PlannedResource", "judge_paths"]
