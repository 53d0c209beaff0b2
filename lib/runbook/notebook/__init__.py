"""Notebook: the plumbing of the notebooks in ``notebooks/``.

``stepparams`` (each notebook's parameters as a pydantic model), ``plumbing`` (``open_step``: the
parameters validated, the run folder found or made, the step's state), ``form`` (the JupyterLab
form built from the same models), ``watchdog`` (a standalone notebook's server stopped when its
kernel is killed). The top of the stages: nothing in the lib imports it but the CLI.
"""
