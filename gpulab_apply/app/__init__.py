"""The application layer, between the command line (:mod:`gpulab_apply.cli`) and the rest (docs/architecture.md).

It builds the client, or the embedded emulator, from settings (:mod:`.connection`) and loads, lists and plans for
the commands (:mod:`.planning`), returning results or raising the one error hierarchy. It writes nothing and imports
no click: the commands turn options into its calls and its results into reports.
"""
