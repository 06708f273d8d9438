import sys
from pathlib import Path

# The record builders live beside the tests; the package itself is installed (pip install -e).
sys.path.insert(0, str(Path(__file__).parent))


import pytest  # noqa: E402


@pytest.fixture
def world():
    """An account on the emulator, the guardrail deployed, cluster `prod` with a protected admin entry."""
    from eks_guardrail.demo.world import CLUSTER_ADMIN, create_world
    from eks_guardrail.local import mock_aws
    from world_helpers import make_cluster

    with mock_aws():
        world = create_world()
        make_cluster(world, "prod")
        eks = world.eks("platform")
        platform = world.role_arn("Platform")
        eks.create_access_entry(clusterName="prod", principalArn=platform, tags={"owner": "platform"})
        eks.associate_access_policy(clusterName="prod", principalArn=platform, policyArn=CLUSTER_ADMIN, accessScope={"type": "cluster"})
        yield world


@pytest.fixture
def guardrail(world):
    """The handler in enforce mode, having seen the setup (which fills the ledger)."""
    from world_helpers import enforce_rules

    app = world.app(enforce_rules())
    world.deliver(app)
    world.alerts()
    return app
