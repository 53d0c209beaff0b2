"""Core: what every stage uses, and nothing of any stage.

``schema`` (the profile's models), ``params`` (profiles loaded, ``extends:``, ``-p`` overrides),
``errors`` (the exception tree), ``runfolder`` (``outputs/<run-id>/``, ``state.json``), ``paths``
(profile paths), ``secrets`` (keys from env or file, masked), ``verdicts`` (PASS/WARN/FAIL per
check), ``progress`` (progress lines and bars), ``lockfile`` (the runbook's own locked venv).
Imports only the standard library, third-party packages and other core modules.
"""
