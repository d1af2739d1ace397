"""RQ entry points: thin functions of ids that open an app context and call a service."""
