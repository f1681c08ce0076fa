"""Job files: finding them, reading their YAML safely, and judging them against GPULab's Job2 rules.

The path of one file is ``discover -> read -> (transforms) -> check``; the result is desired jobs plus every
problem, each located at the file, line and column that set the offending value. Nothing here touches the network.
"""
