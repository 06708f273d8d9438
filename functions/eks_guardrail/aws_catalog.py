"""Facts about the EKS access-entry API that both the rules and the emulator rely on.

Sources are listed in the README (section "Where the AWS facts come from"): botocore's EKS
service model and the EKS User Guide. The access-policy list grows over time; treat it as
"known today", not as closed.
"""

from __future__ import annotations

ACCESS_POLICY_ARN_PREFIX = "arn:aws:eks::aws:cluster-access-policy/"

#: Every access policy AWS lists today (EKS User Guide, `aws eks list-access-policies`).
ACCESS_POLICY_NAMES: tuple[str, ...] = (
    "AIDevOpsAgentAccessPolicy",
    "AmazonAIOpsAssistantPolicy",
    "AmazonARCRegionSwitchScalingPolicy",
    "AmazonEKSACKPolicy",
    "AmazonEKSAdminPolicy",
    "AmazonEKSAdminViewPolicy",
    "AmazonEKSArgoCDClusterPolicy",
    "AmazonEKSArgoCDPolicy",
    "AmazonEKSAutoNodePolicy",
    "AmazonEKSBlockStorageClusterPolicy",
    "AmazonEKSBlockStoragePolicy",
    "AmazonEKSClusterAdminPolicy",
    "AmazonEKSClusterInsightsPolicy",
    "AmazonEKSComputeClusterPolicy",
    "AmazonEKSComputePolicy",
    "AmazonEKSEditPolicy",
    "AmazonEKSEventPolicy",
    "AmazonEKSHybridPolicy",
    "AmazonEKSKROPolicy",
    "AmazonEKSLoadBalancingClusterPolicy",
    "AmazonEKSLoadBalancingPolicy",
    "AmazonEKSNetworkingClusterPolicy",
    "AmazonEKSNetworkingPolicy",
    "AmazonEKSPodIdentityPolicy",
    "AmazonEKSSecretAdminPolicy",
    "AmazonEKSSecretReaderPolicy",
    "AmazonEKSViewPolicy",
    "AmazonEMRJobPolicy",
    "AmazonSagemakerHyperpodClusterPolicy",
    "AmazonSagemakerHyperpodControllerPolicy",
    "AmazonSagemakerHyperpodSpacePolicy",
    "AmazonSagemakerHyperpodSpaceTemplatePolicy",
    "AmazonSagemakerHyperpodSystemNamespacePolicy",
    "AmazonSagemakerHyperpodUserClusterPolicy",
)

CLUSTER_ADMIN_POLICY = "AmazonEKSClusterAdminPolicy"

#: Access policies that read Secrets or write RBAC: `admin-policy`'s default privileged set,
#: name -> (why, whether anyone may hold it scoped to namespaces by default). Sources: the EKS
#: User Guide's access-policy permissions and Kubernetes' user-facing roles (docs/aws-facts.md C).
PRIVILEGED_ACCESS_POLICIES: dict[str, tuple[str, bool]] = {
    "AmazonEKSClusterAdminPolicy": ("every verb on every resource, cluster-wide (Kubernetes cluster-admin)", False),
    "AmazonEKSAdminPolicy": ("writes Roles and RoleBindings, reads and writes Secrets, impersonates service accounts (Kubernetes admin)", False),
    "AmazonEKSAdminViewPolicy": ("reads every resource, Secrets included", False),
    "AmazonEKSSecretReaderPolicy": ("reads Secrets", False),
    "AmazonEKSSecretAdminPolicy": ("reads and writes Secrets", False),
    # Kubernetes `edit` reads and writes Secrets and impersonates service accounts in its namespaces;
    # common for teams in their own namespaces, so namespaced holders pass by default.
    "AmazonEKSEditPolicy": ("reads and writes Secrets, impersonates service accounts (Kubernetes edit)", True),
}

#: "Designated for AWS service-linked roles only and cannot be used with customer-managed
#: roles" (EKS User Guide, access policy reference).
SERVICE_LINKED_ONLY_POLICIES: frozenset[str] = frozenset(
    {
        "AmazonEKSBlockStoragePolicy",
        "AmazonEKSComputePolicy",
        "AmazonEKSBlockStorageClusterPolicy",
        "AmazonEKSComputeClusterPolicy",
        "AmazonEKSHybridPolicy",
        "AmazonEKSClusterInsightsPolicy",
    }
)

#: Username and group prefixes AWS itself reserves (EKS User Guide, "Create access entries").
AWS_RESERVED_PREFIXES: tuple[str, ...] = ("system:", "eks:", "aws:", "amazon:", "iam:")

STANDARD = "STANDARD"
#: Entry types documented for CreateAccessEntry; the model keeps `type` a plain string.
ACCESS_ENTRY_TYPES: tuple[str, ...] = (
    "STANDARD",
    "FARGATE_LINUX",
    "EC2_LINUX",
    "EC2_WINDOWS",
    "EC2",
    "HYBRID_LINUX",
    "HYPERPOD_LINUX",
)
NODE_ENTRY_TYPES: frozenset[str] = frozenset(ACCESS_ENTRY_TYPES) - {STANDARD}

AUTHENTICATION_MODES: tuple[str, ...] = ("API", "API_AND_CONFIG_MAP", "CONFIG_MAP")
#: What CreateCluster uses when `accessConfig` is absent (API/SDK/CloudFormation default).
DEFAULT_AUTHENTICATION_MODE = "CONFIG_MAP"
DEFAULT_BOOTSTRAP_CLUSTER_CREATOR_ADMIN = True


def policy_arn(name: str) -> str:
    """The ARN of an access policy given its name (or the ARN itself)."""
    return name if name.startswith("arn:") else ACCESS_POLICY_ARN_PREFIX + name


def policy_name(arn_or_name: str) -> str:
    """The short name of an access policy given its ARN (or the name itself)."""
    return arn_or_name.rsplit("/", 1)[-1] if arn_or_name.startswith("arn:") else arn_or_name
