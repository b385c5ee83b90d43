"""Toolkit for inspecting police responses to missing and absent children.

Modules are named for the stage they serve: ``forces`` (the registry),
``schema`` and ``extract`` (the input contract and reading it), ``synth``
(synthetic extracts), ``intervals`` (confidence intervals), ``summary``
(figures computed once for all forces), ``report`` (what the notebooks show),
``render`` and ``runner`` (papermill and nbconvert), ``site`` (the index page)
and ``cli``.
"""

__version__ = "0.1.0"
