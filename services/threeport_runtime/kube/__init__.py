"""One Kubernetes layer for every service (DESIGN §5, §8).

Modules: ``connection`` (where an API server is and how to authenticate, from a cluster's
credentials), ``errors`` (one taxonomy: unreachable, unauthorized/forbidden, conflict, invalid,
not found), ``transport`` (raw JSON over one HTTP session per cluster), ``discovery`` (kind →
REST path from the server's discovery documents, cached per connection), ``client``
(server-side apply with field manager ``threeport``, get, list by label, delete, wait for
readiness), ``readiness`` (when an object counts as ready), ``cache`` (a watch-fed cache of a
cluster's objects of a kind-set, by label: list, then watch; re-list on 410 or a dropped watch)
and ``pool`` (one client per cluster, rebuilt when its credentials change or a call is refused as
unauthorized, and the caches of its clusters).
"""
