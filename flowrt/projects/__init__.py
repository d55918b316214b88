"""Project mode: the flows under version control (docs/projects.md).

- :mod:`.layout` -- the files: one per tab and per subflow, an index, a canonical form;
- :mod:`.git` -- the repository, through the ``git`` command;
- :mod:`.storage` -- ``ProjectStorage``: every deploy a commit, crash recovery;
- :mod:`.diff` -- the semantic diff of two versions;
- :mod:`.cli` -- ``flowrt export, log, diff, rollback, project init, push, pull``.

The history API is ``flowrt.server.history_routes``.
"""
