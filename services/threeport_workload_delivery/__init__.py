"""workload-delivery: deployments (application x environment), releases and rollouts (schema ``delivery``)."""
