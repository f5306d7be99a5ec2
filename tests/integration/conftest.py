import pytest

from tests.integration.harness import Daemon

BASE_ZONE = """\
$ORIGIN example.com.
$TTL 3600
@       IN SOA  ns1.example.com. hostmaster.example.com. 2026112701 7200 3600 1209600 300
        NS      ns1.example.com.
        NS      ns2.example.com.
        MX      10 mail.example.com.
ns1     A       192.0.2.1
ns2     A       198.51.100.1
www     A       192.0.2.10
        AAAA    2001:db8::10
mail    A       192.0.2.25
ftp     CNAME   www
chain   CNAME   ftp
*.apps  A       192.0.2.80
lab     NS      ns.lab.example.com.
ns.lab  A       192.0.2.53
big     TXT     {big_txt}
"""

# Enough text that the answer cannot fit in 512 bytes but fits in 4096.
BIG_TXT = " ".join(f'"{i:02d}-{"x" * 60}"' for i in range(12))

NET_ZONE = """\
$ORIGIN example.net.
$TTL 300
@       SOA     ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
        NS      ns1.example.com.
www     A       203.0.113.7
"""


def example_com(serial: int = 2026112701, www: str = "192.0.2.10", extra: str = "") -> str:
    return BASE_ZONE.replace("2026112701", str(serial)).replace("192.0.2.10", www).format(big_txt=BIG_TXT) + extra


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path, {"example.com": example_com(), "example.net": NET_ZONE},
               extra_zone_config={"example.net": {"serial": "increment"}},
               extra_config="limits:\n  tcp_idle_timeout_s: 1.5\n")
    d.start(wait_zones=["example.com", "example.net"])
    yield d
    d.stop()
