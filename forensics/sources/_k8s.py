"""SQL helpers shared by the Kubernetes loaders' runtime facts (a leading "_" is not a source)."""

from __future__ import annotations

#: the workload a pod name belongs to: without its ReplicaSet hash and pod suffix
WORKLOAD_OF_POD = (
    "CASE WHEN regexp_matches({p}, '-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}$') "
    "THEN regexp_replace({p}, '-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}$', '') "
    "ELSE regexp_replace({p}, '-[a-z0-9]{{5}}$', '') END"
)
#: the first sha256 digest in a text, lower case
DIGEST = "nullif(lower(regexp_extract({x}, 'sha256:[0-9a-fA-F]{{64}}')), '')"
