"""The Prometheus endpoint, scraped over HTTP: the figures match what happened."""

import time

from tests.helpers import free_port
from tests.integration.harness import Daemon, scrape
from tests.integration.secondaries import SECONDARY_CONFIG, axfr_zone
from tests.zones import example_com


def test_metrics_match_what_happened(tmp_path):
    mport = free_port()
    silent = free_port("127.0.0.5")  # nobody listens: NOTIFY is retried, then fails
    config = SECONDARY_CONFIG.replace("open: {allow: [127.0.0.4/32]}",
                                      f"open: {{allow: [127.0.0.4/32], notify: ['127.0.0.5:{silent}'],"
                                      " notify_retries_s: [0.2, 0.2]}")
    d = Daemon(tmp_path, {"example.com": example_com()},
               extra_zone_config={"example.com": {"secondaries": "[lab, open]"}},
               extra_config=config + f'metrics: "127.0.0.1:{mport}"\n')
    d.start(wait_zones=["example.com"])
    try:
        before = scrape(mport)
        for _ in range(3):
            d.query("www.example.com", "A")
        d.query("nope.example.com", "A")
        d.query("www.example.org", "A")
        axfr_zone(d.port)  # lab takes serial 2026112701 by AXFR
        d.write_zone("example.com", example_com(serial=2026112702, www="192.0.2.11"))
        assert d.hpctl("reload").returncode == 0
        time.sleep(1.0)  # the NOTIFY to the silent target runs out: 3 tries over 0.6 s
        m = scrape(mport)

        def delta(name, **labels):
            key = (name, tuple(sorted(labels.items())))
            return m.get(key, 0) - before.get(key, 0)

        assert delta("hiddenprimary_queries_total", transport="udp", rcode="NOERROR") >= 3
        assert delta("hiddenprimary_queries_total", transport="udp", rcode="NXDOMAIN") == 1
        assert delta("hiddenprimary_queries_total", transport="udp", rcode="REFUSED") == 1
        assert m[("hiddenprimary_zone_serial", (("zone", "example.com"),))] == 2026112702
        lab = (("secondary", "lab"), ("zone", "example.com"))
        assert m[("hiddenprimary_secondary_serial", lab)] == 2026112701
        assert m[("hiddenprimary_secondary_lag", lab)] == 1
        assert delta("hiddenprimary_transfers_total", zone="example.com", secondary="lab", kind="AXFR",
                     outcome="ok") == 1
        assert delta("hiddenprimary_transfer_bytes_total", zone="example.com", kind="AXFR") > 500
        opened = (("event", "failed"), ("secondary", "open"), ("zone", "example.com"))
        assert m[("hiddenprimary_notify_total", opened)] >= 1
        assert m[("hiddenprimary_notify_total", (("event", "retries"), ("secondary", "open"),
                                                 ("zone", "example.com")))] >= 2
        assert m[("hiddenprimary_reload_duration_seconds_count", (("zone", "example.com"),))] >= 2
    finally:
        d.stop()
