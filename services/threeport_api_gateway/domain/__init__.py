"""Pure rules of the gateway: token format and hashing, name checks, rate buckets. No I/O."""
