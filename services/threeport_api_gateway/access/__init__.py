"""Who may call what: the method table from the proto ``policy`` options, token
authentication, authorization, rate limiting and the audit log, applied to every call."""
