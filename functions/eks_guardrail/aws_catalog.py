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
#: name -> (why it is privileged, whether anyone may hold it scoped to namespaces by default).
#: Sources: the EKS User Guide's "Review access policy permissions" and Kubernetes' user-facing
#: roles (docs/aws-facts.md C). Not in the set: AmazonEKSViewPolicy (its rules list no
#: `secrets`, like Kubernetes `view`); the Auto Mode, hybrid and insights policies (service-linked
#: roles and EKS's own node/cluster roles); the ArgoCD, ACK, KRO, EMR, HyperPod and AIOps
#: policies, whose rules AWS does not publish (add any of them by name to `policies`).
PRIVILEGED_ACCESS_POLICIES: dict[str, tuple[str, bool]] = {
    # `*` verbs on `*` resources plus every nonResourceURL: Kubernetes cluster-admin.
    "AmazonEKSClusterAdminPolicy": ("every verb on every resource, cluster-wide (Kubernetes cluster-admin)", False),
    # Writes `roles`/`rolebindings`, reads and writes `secrets`, `impersonate` on serviceaccounts.
    "AmazonEKSAdminPolicy": ("writes Roles and RoleBindings, reads and writes Secrets, impersonates service accounts (Kubernetes admin)", False),
    # get/list/watch on `*`/`*`: AWS notes that this "includes Kubernetes Secrets".
    "AmazonEKSAdminViewPolicy": ("reads every resource, Secrets included", False),
    # get/list/watch on `secrets`, nothing else.
    "AmazonEKSSecretReaderPolicy": ("reads Secrets", False),
    # By its name: its rules are not in the User Guide's reference (third-party notes show
    # `secrets` with every verb); a policy named for Secrets is privileged until shown otherwise.
    "AmazonEKSSecretAdminPolicy": ("reads and writes Secrets", False),
    # Reads and writes `secrets`, `impersonate` on serviceaccounts, creates pods (so it can run
    # as any service account of its namespaces); no RBAC. Cluster-wide that is every Secret of
    # the cluster; scoped to a team's namespaces it is Kubernetes' intended use of `edit`, so
    # namespaced holders pass by default (namespace-scope still guards kube-system).
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

#: The service principal(s) that assume the role of each node-type entry, as its trust policy
#: names them (docs/aws-facts.md B, "Node-type entries"): node roles are assumed by EC2
#: (self-managed and Auto Mode nodes), pod execution roles by Fargate, hybrid nodes' roles by
#: SSM hybrid activations or IAM Roles Anywhere, HyperPod instance-group roles by SageMaker.
#: Partitions with another DNS suffix (China: `ec2.amazonaws.com.cn`) name the same services.
NODE_ROLE_SERVICES: dict[str, frozenset[str]] = {
    "EC2_LINUX": frozenset({"ec2.amazonaws.com"}),
    "EC2_WINDOWS": frozenset({"ec2.amazonaws.com"}),
    "EC2": frozenset({"ec2.amazonaws.com"}),
    "FARGATE_LINUX": frozenset({"eks-fargate-pods.amazonaws.com"}),
    "HYBRID_LINUX": frozenset({"ssm.amazonaws.com", "rolesanywhere.amazonaws.com"}),
    "HYPERPOD_LINUX": frozenset({"sagemaker.amazonaws.com"}),
}

#: Where AWS puts EKS's service-linked roles (`AWSServiceRoleForAmazonEKS`, `...Nodegroup`,
#: `...ForFargate`): customers cannot create roles under `/aws-service-role/`.
EKS_SERVICE_LINKED_ROLE_PREFIX = "AWSServiceRoleForAmazonEKS"
SERVICE_LINKED_ROLE_PATH = "/aws-service-role/"

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
