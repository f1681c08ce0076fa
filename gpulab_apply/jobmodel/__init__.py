"""GPULab's job model: how GPULab reads and judges a job, each fact once.

``schema`` (the Job2 JSON Schema, its compiled checker and readable violations), ``rules`` (the rules a schema
cannot express, and :func:`~gpulab_apply.jobmodel.rules.judge`, the one verdict), ``normal_form`` (canonical and
normal forms), ``lax`` (how GPULab's lax model reads one scalar), ``durations`` (the duration grammar) and
``status`` (job statuses and their groups). ``jobfiles``, ``reconcile``, ``emulator`` and ``gpulab`` depend on it;
it depends on none of them. Nothing here touches the network or the file system beyond the shipped schema.
"""
