"""The control socket: the daemon's server side and hpctl's standard-library client."""
