"""A native, AlgoKit-equivalent LocalNet for machines without a container engine.

    from algo_tracer.localnet import LocalNet
    status = LocalNet().start()      # builds the programs on first use, then starts everything
    print(status.last_round, status.indexer_lag)
"""

from algo_tracer.localnet.layout import GENESIS_ID, TOKEN, Ports
from algo_tracer.localnet.network import LocalNet, LocalnetStatus

__all__ = ["GENESIS_ID", "TOKEN", "LocalNet", "LocalnetStatus", "Ports"]
