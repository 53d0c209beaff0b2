"""Deploy: from a profile to a server that answers.

``preflight`` (GPUs, Docker, disk, port, security, before anything starts), ``launchers``
(``docker`` | ``process`` | ``attach``), ``weights`` (staged before the server), ``server`` (the
launch command, the readiness gate, the capabilities record), ``steps`` (container → weights →
pre-install → server → readiness, and teardown), ``cluster`` (launch plans for more than one
node), ``launchcheck`` (each launch parsed by the release it names). Uses core and engine.
"""
