"""Stand-in for dbt's `adapter.dispatch`: renders the default implementation's SQL type."""


def dispatch(macro_name, macro_namespace=None):
    return lambda *args, **kwargs: "double"
