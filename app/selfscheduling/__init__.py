"""Self-scheduling settings and their scheduler configs (contract: "Self-scheduling settings
and availability"). `api` is the HTTP surface, `validation` the rules a body must satisfy,
`store` every SQL statement of the aggregate (including `configs_for_setting`, which the
availability engine reads)."""
