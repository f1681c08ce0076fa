"""Making GPULab match the job files: ownership markers, the plan (a pure function), its execution, saved plans,
and the rows of ``status``.
"""
