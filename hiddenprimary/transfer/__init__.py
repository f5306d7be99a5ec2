"""Feeding secondaries: ACL, TSIG, outbound AXFR/IXFR and their rendering, NOTIFY, what each
secondary did, and `hpctl check`."""
