"""A native, AlgoKit-equivalent LocalNet for machines without a container engine.

    from algo_tracer.localnet import LocalNet
    status = LocalNet().start()      # builds the programs on first use, then starts everything
    print(status.last_round, status.indexer_lag)

    LocalNet(profile="realtime").start()   # beside it: DevMode off, blocks every ~3 s, ports 41xx
"""

from algo_tracer.localnet.layout import GENESIS_ID, TOKEN, Ports
from algo_tracer.localnet.network import LocalNet, LocalnetStatus
from algo_tracer.localnet.profiles import DEVMODE, PROFILES, REALTIME, Profile

__all__ = ["DEVMODE", "GENESIS_ID", "PROFILES", "REALTIME", "TOKEN", "LocalNet", "LocalnetStatus",
           "Ports", "Profile"]
