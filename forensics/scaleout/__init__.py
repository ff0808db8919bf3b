"""The case beyond one machine: the case as a Parquet tree (``parquet``), the kit's DuckDB SQL on Spark
(``transpile``, ``spark``), the CloudTrail mapping on Spark (``cloudtrail``) and exports for the tools
responders share cases with (``exports``). docs/scale-out.md says when and how."""
