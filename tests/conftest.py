import sys
from pathlib import Path

# The record builders live beside the tests; the package itself is installed (pip install -e).
sys.path.insert(0, str(Path(__file__).parent))


import pytest  # noqa: E402


@pytest.fixture
def world():
    """An account on the emulator, the guardrail deployed, cluster `prod` with a protected admin entry."""
    from eks_guardrail.demo.world import create_world
    from eks_guardrail.local import mock_aws
    from world_helpers import guarded_world

    with mock_aws():
        yield guarded_world(create_world())


@pytest.fixture
def guardrail(world):
    """The handler in enforce mode, having seen the setup (which fills the ledger)."""
    from world_helpers import enforce_rules

    app = world.app(enforce_rules())
    world.deliver(app)
    world.alerts()
    return app
