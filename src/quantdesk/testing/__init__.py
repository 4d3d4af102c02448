"""Testing tools shipped with the library: the broker conformance suite every ``Broker`` adapter can run.

Implement ``BrokerHarness`` for your broker, then run every scenario of ``SCENARIOS`` against it (see
``quantdesk.testing.broker_conformance`` for a pytest example). Nothing here imports pytest.
"""

from quantdesk.testing.broker_conformance import SCENARIOS, Scenario, run_scenario
from quantdesk.testing.broker_harness import BrokerHarness, HarnessFeatures, ReportTape, ScenarioSkipped

__all__ = [
    "SCENARIOS",
    "BrokerHarness",
    "HarnessFeatures",
    "ReportTape",
    "Scenario",
    "ScenarioSkipped",
    "run_scenario",
]
