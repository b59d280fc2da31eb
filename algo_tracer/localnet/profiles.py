"""The networks the native LocalNet can run: AlgoKit's DevMode one, and one at real block times.

`devmode` is AlgoKit LocalNet: every transaction group makes its own block at once, nothing
happens in between. `realtime` is the same template, programs and genesis id with DevMode off: the
relay's online genesis wallets propose and vote, so blocks come at the consensus pace (about 3 s on
the pinned go-algorand, close to TestNet and MainNet). It has its own ports and state directory, so
it runs beside a DevMode LocalNet (native or Docker) without touching it. It also runs a second
algod node that accepts transactions (REST on 4111, see layout.py), so failover between two algod
endpoints of one network (ALGO_TRACER_ALGOD_SERVERS) can be tried on it; go-algorand allows that
node only with DevMode off, so the DevMode profile has none.

Both keep the genesis id `dockernet-v1`: algokit-utils decides "is LocalNet" from the genesis id
alone (`ClientManager.genesis_id_is_localnet`), and only then offers KMD and the dispenser that
algo-tracer's LocalNet defaults (recording account, registry deployment) rely on. The two networks
still differ in genesis hash, which is what journals and manifests are bound to.
"""

from __future__ import annotations

from dataclasses import dataclass

from algo_tracer.errors import LocalnetError
from algo_tracer.localnet.layout import NUM_ROUNDS, TOKEN, Ports


@dataclass(frozen=True)
class Profile:
    name: str
    dev_mode: bool
    ports: Ports
    state_suffix: str  # appended to the default state directory's name: a sibling directory
    state_variable: str  # environment variable that overrides the state directory
    env_file: str  # the algokit-utils variables that point a client at this network
    summary: str

    def environment(self) -> dict[str, str]:
        """The algokit-utils variables that point a client at this network (as `env_file`)."""
        return {"ALGOD_SERVER": "http://localhost", "ALGOD_PORT": str(self.ports.algod),
                "ALGOD_TOKEN": TOKEN, "INDEXER_SERVER": "http://localhost",
                "INDEXER_PORT": str(self.ports.indexer), "INDEXER_TOKEN": TOKEN,
                "KMD_PORT": str(self.ports.kmd)}


DEVMODE = Profile(
    name="devmode", dev_mode=True, ports=Ports(), state_suffix="",
    state_variable="ALGO_TRACER_LOCALNET_DIR", env_file=".env.localnet",
    summary="DevMode: one block per transaction group, at once; AlgoKit LocalNet's network",
)
# Ports: the DevMode set + 100 (postgres + 10, indexer 8980 -> 9080), the second algod node 4111;
# none used by AlgoKit LocalNet, the native DevMode one or this project's tests.
REALTIME = Profile(
    name="realtime", dev_mode=False,
    ports=Ports(algod=4101, kmd=4102, follower=8181, gossip=10100, postgres=5453, indexer=9080,
                algod2=4111, ipfs_api=5111, ipfs_gateway=8111),
    state_suffix="-realtime", state_variable="ALGO_TRACER_LOCALNET_REALTIME_DIR",
    env_file=".env.localnet-realtime",
    summary=f"DevMode off: a block every ~3 s, the consensus pace; participation keys end at "
    f"round {NUM_ROUNDS}, about a day, then `reset`",
)
PROFILES = {p.name: p for p in (DEVMODE, REALTIME)}


def profile_named(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise LocalnetError(
            f"unknown LocalNet profile {name!r}",
            fix="choose one of: " + "; ".join(f"{p.name} ({p.summary})" for p in PROFILES.values()),
        ) from None
