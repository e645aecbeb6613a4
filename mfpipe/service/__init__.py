"""``mfpipe serve``: the operations console, an ASGI app (REST API) over the job repository.

It launches through :mod:`mfpipe.jobs` (processes of their own), never loads in the web
process; see :mod:`mfpipe.service.app`.
"""
